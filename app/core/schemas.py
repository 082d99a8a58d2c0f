"""Base classes for API schemas (never table models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    """Request bodies: unknown or server-owned fields answer 422 (mass assignment, API3)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    """Responses: built from ORM objects; the contract forbids extra keys."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")
