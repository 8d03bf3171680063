"""The alliance's MIFARE Classic 1K card layout, shared by the server, the POS and the card tools.

Pure functions and constants only; see docs/card-layout.md for the reasoning. ``print_files`` holds the
printed face (number, QR code, barcode, check code) that the console and ``alliance-cards`` both export.
"""
