"""Budgets: departmental envelopes, their ledger, grants, conventions and payments.

One service module per use case: `movements` (`move`, the one door money goes through, and the
columns a movement is read by), `envelopes` (reads, ledger pages, allocations, transfers),
`grants` (commitment and its frozen terms, release, cancellation, the grant view) and
`payments` (convention, payments, final report, settlement). `envelopes_router` serves
/envelopes, `grants_router` a dossier's grant under /projects/{id}/….
"""
