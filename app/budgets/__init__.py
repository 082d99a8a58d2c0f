"""Budgets: departmental envelopes, their ledger, grants, conventions and payments."""
