"""GET /tableau-de-bord/: the dashboard page (static files), an example client of the API."""
