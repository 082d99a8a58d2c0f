"""Errors of documents (R-DOC-1..3)."""

from __future__ import annotations

from typing import ClassVar

from app.core.errors import (
    AppError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ProblemItem,
    UnprocessableEntity,
)


class DocumentNotFound(NotFound):
    default_detail = "Document introuvable."

    def __init__(self) -> None:
        super().__init__(code="R-DOC-3")


class DocumentTooLarge(PayloadTooLarge):
    slug = "document-too-large"
    title = "Document trop volumineux"

    def __init__(self, max_bytes: int) -> None:
        megabytes = max_bytes / (1024 * 1024)
        super().__init__(
            f"Le document dépasse la taille autorisée ({megabytes:g} Mo) : rien n'a été "
            "conservé (R-DOC-2).",
            code="R-DOC-2",
            headers={"Connection": "close"},
            max_bytes=max_bytes,
        )


class DocumentTypeRefused(AppError):
    """R-DOC-2: the type read from the bytes is not one the programme allows."""

    status: ClassVar[int] = 415
    slug: ClassVar[str] = "document-type-refused"
    title: ClassVar[str] = "Type de document refusé"

    def __init__(self, detected: str, allowed: str) -> None:
        message = f"Le contenu du fichier est de type « {detected} » : {allowed} attendu."
        super().__init__(
            f"Type de document refusé (R-DOC-2) : {message} Le type est lu dans le contenu, "
            "pas dans le nom ni le type déclaré.",
            code="R-DOC-2",
            errors=[ProblemItem(code="R-DOC-2", field="/file", message=message)],
            detected_type=detected,
        )


class UploadInvalid(UnprocessableEntity):
    slug = "document-upload-invalid"
    title = "Dépôt de document invalide"

    @classmethod
    def field(cls, name: str, message: str) -> UploadInvalid:
        return cls(
            f"Le formulaire de dépôt est invalide : {message}",
            code="validation-error",
            errors=[ProblemItem(code="validation-error", field=f"/{name}", message=message)],
        )


class UploadRefused(Conflict):
    """R-DOC-2: this caller may not file this kind on this dossier in its current state."""

    slug = "document-upload-refused"
    title = "Dépôt de document refusé"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Dépôt refusé (R-DOC-2) : {reason}",
            code="R-DOC-2",
            errors=[ProblemItem(code="R-DOC-2", field="/kind", message=reason)],
        )


class DocumentNotServable(Conflict):
    """R-DOC-2: not scanned clean (pending, or infected and quarantined)."""

    slug = "document-not-servable"
    title = "Document non disponible"

    def __init__(self, scan_status: str) -> None:
        reasons = {
            "pending": "son analyse antivirus est en cours : réessayez plus tard.",
            "infected": "l'analyse antivirus l'a trouvé infecté : il est en quarantaine.",
            "unscanned": "il n'a pas été analysé (aucun antivirus) : il n'est pas servi en "
            "production.",
        }
        super().__init__(
            "Le document ne peut pas être téléchargé (R-DOC-2) : "
            + reasons.get(scan_status, "il n'est pas disponible."),
            code="R-DOC-2",
            scan_status=scan_status,
        )


class RangeNotSatisfiable(AppError):
    status: ClassVar[int] = 416
    slug: ClassVar[str] = "range-not-satisfiable"
    title: ClassVar[str] = "Plage non satisfaisable"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"La plage demandée (en-tête Range) est hors du document ({size} octets).",
            headers={"Content-Range": f"bytes */{size}"},
        )


class NotMultipart(AppError):
    status: ClassVar[int] = 415
    slug: ClassVar[str] = "unsupported-media-type"
    title: ClassVar[str] = "Type de contenu non pris en charge"

    def __init__(self) -> None:
        super().__init__(
            "Le dépôt d'un document s'envoie en multipart/form-data (champs `kind`, "
            "`expense_line_id` facultatif, `file`).",
            errors=[
                ProblemItem(
                    code="unsupported-media-type",
                    field="Content-Type",
                    location="header",
                    message="Envoyez le formulaire en multipart/form-data.",
                )
            ],
        )
