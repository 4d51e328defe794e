"""The public-welfare fund: donations, the double-entry ledger, reconciliation and public accounts."""
