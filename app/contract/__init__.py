"""The contract's dressing: the OpenAPI document as FastAPI writes it, post-processed to state
what the server enforces (openapi), its French glossary, its examples (bodies and problems) and
the documentation pages that serve it offline (docs). It sits on top: it reads `core` and
`auth` (the roles of each operation); only `app/main.py` imports it.
"""
