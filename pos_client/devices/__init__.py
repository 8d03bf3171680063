"""Terminal devices behind small interfaces: card reader, code scanner, receipt printer."""
