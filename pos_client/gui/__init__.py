"""The Tk cashier window."""
