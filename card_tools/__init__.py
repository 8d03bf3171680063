"""Operator tools for physical cards: batch issuance, encoding, verification, lifecycle."""
