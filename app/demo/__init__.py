"""Demonstration data (`python -m app demo`, run by `make run` on an empty database): a story
that lives in time (issue 27 §1).

Everything goes through the API the service exposes (routers, services, rules, audit), in
process, with development tokens of the roles a front-end would meet, each request at its own
instant of a timeline (`replay`): the data set is one the rules accept, dated as the API dates
what it is sent on a given day, and it replays the same way on every fresh database. Never in
production.

- `cast`: twelve départements (mainland, Corsica, outre-mer), their prefects, and candidates of
  every eligible kind;
- `timeline`: FITN7 axe 3 from its opening (2021-01-25) to December 2022, about 230 dossiers
  at full size, every state of R-FLOW-1 they rest in, monthly committees, conventions whose
  schedules the payments follow, a cancellation, a settlement below the grant; then
  Numérique des territoires 2026 drafted and published by DINUM in January 2026, its envelopes,
  a handful of dossiers decided in March 2026;
- `replay`: the requests, in the order of their instants;
- `load`: the whole, on an empty database, then the service's clock moved on to the story's
  end (`DEMO_END`, 2026-03-16 09:00 Paris; never back);
- `documents`: R-DOC-1 through the API, shared with the tests and the benchmarks.
"""

from app.demo.documents import STUB_PDF, file_required_documents
from app.demo.load import DemoRefused, database_state, load
from app.demo.replay import Loaded
from app.demo.timeline import DEMO_END

__all__ = [
    "DEMO_END",
    "STUB_PDF",
    "DemoRefused",
    "Loaded",
    "database_state",
    "file_required_documents",
    "load",
]
