"""Which records a steward may repair, as ``credit_dw.governance`` decides before writing anything."""

from __future__ import annotations

from datetime import date

import pytest

from credit_dw.governance import GovernanceError, _check_repair_allowed


def _si_serious(source_status: str) -> dict:
    """A social-insurance serious-dishonesty finding in force, past its minimum period."""
    return {
        "record_id": "r1", "feed": "social_insurance", "record_type": "social_insurance.serious",
        "catalogue_item": "SI-SERIOUS", "item_name": "社会保险领域严重失信主体名单", "status": "active",
        "status_since": date(2026, 1, 10), "is_publishable": True, "rule_version": "SI-SERIOUS-LIST",
        "publicity_start": date(2026, 1, 10), "publicity_end": date(2029, 1, 9),
        "earliest_repair_on": date(2027, 1, 10), "repairable": True, "early_repair_allowed": False,
        "source_status": source_status,
    }


def test_an_unpaid_social_insurance_finding_cannot_be_repaired_even_after_its_minimum_period() -> None:
    with pytest.raises(GovernanceError, match=r"only once the arrears are paid .*still says active"):
        _check_repair_allowed(_si_serious("active"), date(2027, 2, 1))


def test_paid_arrears_make_the_finding_repairable_after_its_minimum_period_only() -> None:
    _check_repair_allowed(_si_serious("paid"), date(2027, 2, 1))
    with pytest.raises(GovernanceError, match="minimum publicity period"):
        _check_repair_allowed(_si_serious("paid"), date(2026, 12, 1))
