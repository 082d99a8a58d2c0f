"""Every table model, imported once: the metadata registry for Alembic and the tests."""

from __future__ import annotations

from sqlmodel import SQLModel

import app.core.db  # noqa: F401  (sets the naming convention before any table is declared)
from app.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from app.budgets.models import Convention, Envelope, Grant, LedgerMovement, Payment
from app.candidates.models import Candidate
from app.committees.models import AgendaItem, Committee
from app.core.db import ServiceClock
from app.core.idempotency import IdempotencyRecord
from app.documents.models import Document
from app.ds.models import DsDemarche, DsDossier, DsMutation, DsSyncRun
from app.evaluations.models import Evaluation
from app.notifications.models import Notification, PrefectureAddress
from app.opendata.models import PublishedGrant
from app.programme.models import DepartementForfaits, Programme, ProgrammeVersion, ScoringGrid
from app.projects.models import ExpenseLine, FundingLine, Project, ProjectTransition
from app.signin.models import LoginState, MappingRule, OneTimeCode
from app.stats.models import StatsBeneficiary, StatsCounter, StatsProject
from app.webhooks.models import WebhookDelivery, WebhookSubscription

metadata = SQLModel.metadata

__all__ = [
    "AgendaItem",
    "Committee",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "Convention",
    "DepartementForfaits",
    "Document",
    "DsDemarche",
    "DsDossier",
    "DsMutation",
    "DsSyncRun",
    "Envelope",
    "Evaluation",
    "Grant",
    "IdempotencyRecord",
    "LedgerMovement",
    "Notification",
    "PrefectureAddress",
    "Payment",
    "Candidate",
    "ExpenseLine",
    "FundingLine",
    "Programme",
    "ProgrammeVersion",
    "Project",
    "StatsBeneficiary",
    "StatsCounter",
    "StatsProject",
    "ProjectTransition",
    "PublishedGrant",
    "ScoringGrid",
    "ServiceClock",
    "LoginState",
    "MappingRule",
    "OneTimeCode",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
]
