"""Documents (pièces justificatives): stored, typed, scanned, scoped (R-DOC-1..3)."""
