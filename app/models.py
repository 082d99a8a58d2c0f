"""Every table model, imported once: the metadata registry for Alembic and the tests."""

from __future__ import annotations

from sqlmodel import SQLModel

import app.core.db  # noqa: F401  (sets the naming convention before any table is declared)
from app.candidates.models import Candidate
from app.programme.models import Programme
from app.projects.models import ExpenseLine, FundingLine, Project, ProjectTransition

metadata = SQLModel.metadata

__all__ = [
    "Candidate",
    "ExpenseLine",
    "FundingLine",
    "Programme",
    "Project",
    "ProjectTransition",
    "metadata",
]
