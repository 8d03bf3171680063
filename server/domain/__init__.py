"""Pure business rules: no database session, no Flask."""
