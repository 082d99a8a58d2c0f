"""The JSON record of the export, for the contract (the rows are written by app.opendata.rules)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import IsoDate
from app.programme.schemas import StrandCode


class SubventionRecord(BaseModel):
    """Une subvention attribuée (SCDL « subventions » 2.1.1), plus `tauxAide` et `volet`."""

    model_config = ConfigDict(extra="forbid")

    nomAttribuant: str = Field(max_length=300, description="La préfecture attribuante.")
    idAttribuant: str = Field(pattern=r"^\d{14}$", description="SIRET de la préfecture.")
    dateConvention: IsoDate
    referenceDecision: str | None = Field(max_length=300, description="Décision du comité.")
    nomBeneficiaire: str = Field(max_length=300)
    idBeneficiaire: str = Field(pattern=r"^\d{14}$", description="SIRET du bénéficiaire.")
    rnaBeneficiaire: None = None
    objet: str = Field(max_length=256)
    montant: float = Field(ge=0, le=10**11, description="Euros, deux décimales.")
    nature: Literal["aide en numéraire"]
    conditionsVersement: Literal["unique", "échelonné", "autre"]
    datesPeriodeVersement: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(/[0-9]{4}-[0-9]{2}-[0-9]{2})?$",
        description="AAAA-MM-JJ (versement unique) ou AAAA-MM-JJ/AAAA-MM-JJ (période).",
    )
    idRAE: None = None
    notificationUE: bool = Field(description="Toujours faux (« non ») : aide non notifiée.")
    pourcentageSubvention: float = Field(
        ge=0.01, le=1, description="Part du bénéficiaire : 1.00 (bénéficiaire unique)."
    )
    dispositifAide: str | None = Field(
        max_length=300, description="Le dispositif d'aide : celui du programme de la subvention."
    )
    tauxAide: float | None = Field(
        ge=0, le=100, description="Hors SCDL : subvention / coût éligible (4 décimales)."
    )
    volet: StrandCode = Field(description="Hors SCDL : le volet du projet (R-PROG-1).")
