"""R-PAY-3 (issue 22): a date not before another one (the balance and its final report, the
final report and the project's start). Pure rule, no DB."""

from __future__ import annotations

from datetime import date

import pytest

from app.budgets.rules import check_not_before, final_report_grant_failure


@pytest.mark.parametrize(
    ("on", "earliest", "refused"),
    [
        (date(2021, 4, 14), date(2021, 4, 15), True),
        (date(2021, 4, 15), date(2021, 4, 15), False),  # the same day is plausible
        (date(2021, 4, 16), date(2021, 4, 15), False),
        (date(2000, 1, 1), None, False),  # nothing to compare with
    ],
)
def test_r_pay_3_not_before(on: date, earliest: date | None, refused: bool) -> None:
    failures = check_not_before(
        on, earliest, field="/paid_on", what="Le solde", earliest_what="le rapport final"
    )
    assert [(f.code, f.field) for f in failures] == ([("R-PAY-3", "/paid_on")] if refused else [])


def test_r_flow_1_names_the_grant_state_or_none() -> None:
    """R-FLOW-1's refusal states the grant's state, "aucune" without a grant (mutation
    testing, issue 22 point 10)."""
    missing = final_report_grant_failure(None, recorded=False)
    cancelled = final_report_grant_failure("cancelled", recorded=False)
    assert missing is not None and missing.message.endswith("(état : aucune).")
    assert cancelled is not None and cancelled.message.endswith("(état : cancelled).")
