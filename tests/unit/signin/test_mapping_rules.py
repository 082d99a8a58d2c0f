"""R-AUTH-2 mapping rules, pure: the order of evaluation, the role checks, the refusals."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.principal import Role
from app.signin.rules import (
    Facts,
    Granted,
    Identity,
    Refused,
    RuleRow,
    decide,
    identity_from_claims,
)

DINUM_SIRET = "13002526500013"
PREF_SIRET = "17130001500016"
MAIRIE_SIRET = "21130055300016"
ETAT = ("agent_public", "agent_public_etat")
TERR = ("agent_public", "agent_public_territorial")

DINUM_SIREN_RULE = RuleRow("r1", "dinum", "siren", DINUM_SIRET[:9], None)
ANCT_SIRET_RULE = RuleRow("r2", "anct", "siret", "13002603200016", None)
PREF_SIRET_RULE = RuleRow("r3", "prefect", "siret", PREF_SIRET, "06")
EMAIL_RULE = RuleRow("r4", "prefect", "email_domain", "bouches-du-rhone.gouv.fr", "13")


def who(
    siret: str | None,
    roles: tuple[str, ...] | None = None,
    email: str | None = "agent@example.fr",
) -> Identity:
    return Identity("sub", siret, email, "Org", roles)


CASES: list[tuple[str, Identity, Facts, Any]] = [
    (
        "dinum by SIREN",
        who(DINUM_SIRET, ETAT),
        Facts(rules=[DINUM_SIREN_RULE]),
        Granted(Role.DINUM, "allowlist-dinum-siren:r1"),
    ),
    (
        "anct by SIRET",
        who("13002603200016"),
        Facts(rules=[ANCT_SIRET_RULE]),
        Granted(Role.ANCT, "allowlist-anct-siret:r2"),
    ),
    (
        "national rules come before the envelope",
        who(DINUM_SIRET),
        Facts(rules=[DINUM_SIREN_RULE], envelope_departements=["13"]),
        Granted(Role.DINUM, "allowlist-dinum-siren:r1"),
    ),
    (
        "prefect by the envelope's SIRET",
        who(PREF_SIRET, ETAT),
        Facts(envelope_departements=["13"]),
        Granted(Role.PREFECT, "prefecture-envelope:13", departement="13"),
    ),
    (
        "prefect by the envelope: several programmes, one département",
        who(PREF_SIRET, None),
        Facts(envelope_departements=["13", "13"]),
        Granted(Role.PREFECT, "prefecture-envelope:13", departement="13"),
    ),
    (
        "prefect by the SIRET allowlist",
        who(PREF_SIRET, ETAT),
        Facts(rules=[PREF_SIRET_RULE]),
        Granted(Role.PREFECT, "allowlist-prefect-siret:r3", departement="06"),
    ),
    (
        "prefect by the e-mail domain DINUM enabled",
        who("17130001500099", ETAT, "x@Bouches-du-Rhone.gouv.fr"),
        Facts(rules=[EMAIL_RULE]),
        Granted(Role.PREFECT, "email-domain:r4", departement="13"),
    ),
    (
        "prefect without agent_public_etat when roles are given",
        who(PREF_SIRET, TERR),
        Facts(envelope_departements=["13"]),
        Refused("R-AUTH-2/prefect-requires-agent_public_etat", ""),
    ),
    (
        "prefect SIRET on two départements",
        who(PREF_SIRET, ETAT),
        Facts(envelope_departements=["13", "84"]),
        Refused("R-AUTH-2/prefect-ambiguous", ""),
    ),
    (
        "candidate: a commune of the reference data",
        who(MAIRIE_SIRET, TERR),
        Facts(collectivite_name="Marseille"),
        Granted(Role.CANDIDATE, "collectivite-reference:211300553", siren="211300553"),
    ),
    (
        "candidate without agent_public_territorial when roles are given",
        who(MAIRIE_SIRET, ETAT),
        Facts(collectivite_name="Marseille"),
        Refused("R-AUTH-2/candidate-requires-agent_public_territorial", ""),
    ),
    (
        "candidate: a registered département, no roles claim",
        who("22130001700013"),
        Facts(candidate_verification="verified"),
        Granted(Role.CANDIDATE, "registered-candidate:221300017", siren="221300017"),
    ),
    (
        "candidate: registered, still to verify",
        who("22130001700013", TERR),
        Facts(candidate_verification="to_verify"),
        Granted(Role.CANDIDATE, "registered-candidate:221300017", siren="221300017"),
    ),
    (
        "candidate refused at verification",
        who("22130001700013", TERR),
        Facts(candidate_verification="refused"),
        Refused("R-AUTH-2/candidate-refused", ""),
    ),
    (
        "an association: nothing maps",
        who("77567227200014"),
        Facts(rules=[DINUM_SIREN_RULE, EMAIL_RULE], envelope_departements=[]),
        Refused("R-AUTH-2/no-rule", ""),
    ),
    (
        "no SIRET and no e-mail",
        who(None, None, None),
        Facts(),
        Refused("R-AUTH-2/no-siret", ""),
    ),
]


@pytest.mark.parametrize(
    ("identity", "facts", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_r_auth_2_decide(identity: Identity, facts: Facts, expected: Any) -> None:
    decision = decide(identity, facts)
    if isinstance(expected, Refused):
        assert isinstance(decision, Refused)
        assert decision.rule == expected.rule
        assert decision.reason and decision.contact
    else:
        assert decision == expected


@pytest.mark.parametrize(
    ("claims", "siret", "roles"),
    [
        ({"sub": "a", "siret": MAIRIE_SIRET, "roles": list(TERR)}, MAIRIE_SIRET, TERR),
        ({"sub": "a", "siret": "2113005530001"}, None, None),  # 13 digits
        ({"sub": "a", "siret": "２１１３００５５３０００１６"}, None, None),  # full-width digits
        ({"sub": "a", "siret": 21130055300016}, None, None),  # not a string
        ({"sub": "a", "roles": "agent_public agent_public_etat"}, None, ETAT),
    ],
)
def test_r_auth_2_identity_is_read_strictly(
    claims: dict[str, Any], siret: str | None, roles: tuple[str, ...] | None
) -> None:
    identity = identity_from_claims(claims)
    assert (identity.siret, identity.roles) == (siret, roles)
