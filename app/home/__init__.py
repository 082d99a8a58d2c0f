"""`/`: the service's home page (issue 27), outside the API contract."""
