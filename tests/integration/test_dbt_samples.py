"""Three nights of the committed sample deliveries, ingested for real and built with publish swaps.

After each night's build the candidate is swapped into ``marts`` the way the publish step does it,
so on the third night ``marts_candidate`` holds the state of the first night: the incremental
marts must catch up from two nights behind, and every built table must equal a full refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from test_dbt_build import (
    BUILT_TABLES,
    a_day_passes,
    build,
    differences,
    keep_incremental_copies,
    private_warehouse,
    rows,
)

from credit_dw.feeds import all_specs
from credit_dw.ingest.delivery import delivery_ready, ingest_delivery

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "landing"
NIGHTS = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
FEEDS = [spec.feed for spec in all_specs()]


def ingest_night(dsn: str, day: date) -> None:
    for feed in FEEDS:
        if delivery_ready(feed, day, SAMPLES):
            ingest_delivery(feed, day, dsn=dsn, landing_root=SAMPLES)


def swap(dsn: str) -> None:
    """What publish does: marts ⇄ marts_candidate in one transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute("alter schema marts rename to marts_swap")
        conn.execute("alter schema marts_candidate rename to marts")
        conn.execute("alter schema marts_swap rename to marts_candidate")


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    if not all(delivery_ready("penalty", day, SAMPLES) for day in NIGHTS):
        pytest.skip("committed sample deliveries are not there (samples/landing)")
    base = tmp_path_factory.mktemp("dbt_samples")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_samples") as dsn:
        for day in NIGHTS:
            ingest_night(dsn, day)
            build(dsn, flags, day)
            a_day_passes(dsn)
            if day != NIGHTS[-1]:
                swap(dsn)
        yield dsn, flags


@pytest.fixture(scope="module")
def refreshed(nights: tuple[str, list[str]]) -> str:
    """Night 3 as the incremental build left it (copied), then a full refresh of the same data."""
    dsn, flags = nights
    keep_incremental_copies(dsn)
    build(dsn, flags, NIGHTS[-1], "--full-refresh")
    return dsn


@pytest.mark.parametrize("table", BUILT_TABLES)
def test_two_nights_behind_catches_up(refreshed: str, table: str) -> None:
    assert differences(refreshed, table) == ([], [])


def test_every_feed_reaches_the_marts(nights: tuple[str, list[str]]) -> None:
    dsn, _ = nights
    feeds = {r[0] for r in rows(dsn, "select distinct feed from marts_candidate.fct_credit_record")}
    assert feeds == set(FEEDS)
    disclosed = {r[0] for r in rows(dsn, "select distinct catalogue_item from marts_candidate.public_disclosure")}
    assert {"PEN-GENERAL", "JUD-DISHONEST", "TAX-MAJOR", "SI-SERIOUS", "REG-BASIC"} <= disclosed
    assert not disclosed & {"PEN-WARNING", "TAX-RATING-OTHER", "SI-NOTICE"}
    grades = rows(dsn, "select count(*) filter (where credit_grade is null), count(*)"
                       " from marts_candidate.subject_credit_profile")
    assert grades[0][0] == 0 and grades[0][1] > 100
