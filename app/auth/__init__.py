"""Who is calling: principals, roles and the dependencies that check them (a leaf domain)."""
