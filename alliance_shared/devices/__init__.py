"""The chip-card hardware both clients use: card reader interface, PC/SC reader, MIFARE Classic 1K, member card."""
