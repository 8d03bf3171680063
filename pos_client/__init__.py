"""AllianceCard POS terminal: hardware, checkout core, server client, outbox and receipts."""
