"""Guichet FITN7 axe 3: the departmental grant window API (France Relance)."""
