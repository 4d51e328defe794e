"""Accounts for real people: staff accounts, organizations joining by application, handovers."""
