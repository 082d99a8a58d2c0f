"""Dashboards: national and per-département figures, each one SQL aggregation (DOMAIN.md §5)."""
