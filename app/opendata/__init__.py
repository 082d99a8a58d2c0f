"""Open data: granted subsidies in the SCDL « subventions » 2.1.1 format (DOMAIN.md §5)."""
