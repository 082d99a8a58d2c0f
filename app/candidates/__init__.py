"""Candidates (porteurs): the authorities that apply, and who may see them."""
