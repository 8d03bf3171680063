"""Operator and merchant-staff endpoints (personal tokens): one module per resource, each with a `blp`."""
