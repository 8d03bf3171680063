"""Terminal devices behind small interfaces: code scanner, receipt printer (card reader: alliance_shared)."""
