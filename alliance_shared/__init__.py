"""What the server and the clients share, beside ``card_layout``.

- ``money``, ``pricing``, ``errors``: the pure money and pricing rules (integer fen, basis points, one
  rounding rule, the sale quote and its refusals). The server prices every quote and sale with them and the
  POS prices a sale without redemption with them. No Flask, no SQLAlchemy, no I/O.
- ``http_client``: the HTTP transport to the AllianceCard API (the POS and the card tools).
- ``devices``: the PC/SC card reader interface and its pyscard implementation, MIFARE Classic 1K
  commands and the member card's chip logic (the POS and the card tools).
- ``print_files``: the printed face of a card batch (CSV, A4 PDF) that the console and ``alliance-cards``
  both export.

The server imports only the pure modules; ``pos_client`` and ``card_tools`` import this package and never
each other (contracts in setup.cfg).
"""
