"""Evaluations of dossiers (R-EVAL-1..4)."""
