"""Key material, PII protection, tokens and passwords."""
