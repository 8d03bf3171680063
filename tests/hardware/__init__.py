"""Card reader tests: a virtual MIFARE Classic 1K behind a real pcscd (vsmartcard-vpcd)."""
