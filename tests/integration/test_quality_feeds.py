"""Feed suites on the night's raw batches, against a real PostgreSQL and a real GX context."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import date, timedelta

import psycopg
import pytest

from credit_dw.identifiers import uscc_check_char
from credit_dw.quality import gate

NIGHT = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _gx_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_DW_GX_ROOT", str(tmp_path_factory.getbasetemp() / "gx_feeds"))


def _uscc(n: int, valid: bool = True) -> str:
    first17 = f"91110000MA{n:07d}"
    check = uscc_check_char(first17)
    if not valid:
        check = "0" if check != "0" else "1"
    return first17 + check


def add_delivery(conn: psycopg.Connection, feed: str, day: date, rows_loaded: int) -> int:
    (batch_id,) = conn.execute(
        "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
        " rows_read, rows_loaded, status, started_at)"
        " values (%s, %s, %s, 1, %s, %s, %s, 'loaded', now()) returning batch_id",
        (feed, day, f"{feed}/{day}/{feed}_{day:%Y%m%d}.csv", secrets.token_hex(32), rows_loaded, rows_loaded),
    ).fetchone()
    return batch_id


def add_registrations(conn: psycopg.Connection, batch_id: int, n: int, failed: int) -> None:
    with conn.cursor().copy(
        "copy raw.registration (uscc, uscc_check_failed, name, subject_type, status, updated_at,"
        " batch_id, source_file, source_row) from stdin"
    ) as copy:
        for i in range(n):
            bad = i < failed
            copy.write_row((_uscc(batch_id * 1000 + i, valid=not bad), bad, f"公司{i}", "企业", "存续",
                            "2026-03-09 10:00:00", batch_id, "registration.csv", i + 1))


def night_with_history(dsn: str, tonight_rows: int, failed: int = 0) -> int:
    with psycopg.connect(dsn) as conn:
        for days_back in range(7, 0, -1):
            add_delivery(conn, "registration", NIGHT - timedelta(days=days_back), 20)
        batch = add_delivery(conn, "registration", NIGHT, tonight_rows)
        add_registrations(conn, batch, tonight_rows, failed)
    return batch


def _failures(result: gate.GateResult) -> set[tuple[str, str, str | None]]:
    return {(o.suite, f["expectation"], f["column"]) for o, f in result.failures()}


def test_clean_night_passes_and_is_stored(fresh_dsn: str) -> None:
    batch = night_with_history(fresh_dsn, 20, failed=1)   # 5% anomalies: at the limit, passes
    result = gate.validate_feeds("feeds-ok", [batch], as_of=NIGHT)
    assert result.passed, result.describe()
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute(
            "select suite, target, batch_id, success, statistics->>'trailing_median'"
            " from quality.validation_run where run_id = 'feeds-ok' order by suite"
        ).fetchall()
    assert rows == [
        ("delivery_registration", "quality.batch_manifest[raw.registration]", batch, True, "20.0"),
        ("raw_registration", "raw.registration", batch, True, None),
        ("rejects_registration", "quality.batch_manifest[raw.registration]", batch, True, None),
    ]


def test_thirty_percent_register_anomalies_fail_the_ratio(fresh_dsn: str) -> None:
    batch = night_with_history(fresh_dsn, 20, failed=6)
    result = gate.validate_feeds("feeds-anomalies", [batch], as_of=NIGHT)
    assert _failures(result) == {("raw_registration", "expect_column_values_to_be_in_set", "uscc_check_failed")}
    with pytest.raises(gate.QualityGateError, match=r"raw\.registration\.uscc_check_failed"):
        gate.assert_passed(result)
    with psycopg.connect(fresh_dsn) as conn:
        (failed,) = conn.execute(
            "select failed_expectations from quality.validation_run"
            " where run_id = 'feeds-anomalies' and not success"
        ).fetchone()
    assert failed[0]["observed"]["unexpected_percent"] == 30.0


@pytest.mark.parametrize(("tonight", "passes"), [(9, False), (10, True), (60, True), (61, False)])
def test_row_count_bounds_against_trailing_median(fresh_dsn: str, tonight: int, passes: bool) -> None:
    batch = night_with_history(fresh_dsn, tonight)       # trailing median 20: bounds 10..60
    result = gate.validate_feeds(f"feeds-count-{tonight}", [batch], as_of=NIGHT)
    assert result.passed is passes, result.describe()
    if not passes:
        assert _failures(result) == {("delivery_registration", "expect_column_values_to_be_between",
                                      "rows_loaded")}


def test_late_delivery_is_a_warning_not_a_block(fresh_dsn: str) -> None:
    batch = night_with_history(fresh_dsn, 20)
    result = gate.validate_feeds("feeds-late", [batch], as_of=NIGHT + timedelta(days=10))
    assert result.passed
    delivery = next(o for o in result.outcomes if o.suite == "delivery_registration")
    assert [(f["expectation"], f["severity"], f["observed"]) for f in delivery.failed_expectations] == [
        ("expect_column_min_to_be_between", "warning", 10)
    ]


def test_no_batches_validates_nothing(fresh_dsn: str) -> None:
    assert gate.validate_feeds("feeds-empty", None).outcomes == ()


def _reject(conn: psycopg.Connection, batch_id: int, rejected: int, code: str = "USCC_CHECK_FAILED") -> None:
    """Record ``rejected`` quarantined rows for a batch (rows_read grows by as many)."""
    conn.execute("update quality.batch_manifest set rows_read = rows_read + %s, rows_rejected = %s"
                 " where batch_id = %s", (rejected, rejected, batch_id))
    for i in range(rejected):
        conn.execute("insert into quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes,"
                     " message, raw_record) values (%s, 'registration', 'f.csv', %s, %s, 'bad', 'x')",
                     (batch_id, i + 2, [code]))


def test_forty_percent_rejected_blocks_and_names_the_file_and_reasons(fresh_dsn: str) -> None:
    batch = night_with_history(fresh_dsn, 60)
    with psycopg.connect(fresh_dsn) as conn:
        _reject(conn, batch, 40)                          # 40 of 100 rows quarantined
    result = gate.validate_feeds("feeds-rejects", [batch], as_of=NIGHT)
    assert not result.passed
    assert {("rejects_registration", "expect_column_values_to_be_between", "file_rejected_share"),
            ("rejects_registration", "expect_column_values_to_be_between", "night_rejected_share")} == _failures(result)
    headline = result.describe().splitlines()[0]
    assert f"registration/{NIGHT}/registration_{NIGHT:%Y%m%d}.csv: 40 of 100 rows rejected (40%, limit 10%)" in headline
    assert "top reasons USCC_CHECK_FAILED 40" in headline


def test_rejections_within_bounds_pass_and_small_files_are_judged_by_the_night(fresh_dsn: str) -> None:
    batch = night_with_history(fresh_dsn, 20)
    with psycopg.connect(fresh_dsn) as conn:
        _reject(conn, batch, 1)                           # 1 of 21: 4.8 %, a small file, night within 5 %
    assert gate.validate_feeds("feeds-few-rejects", [batch], as_of=NIGHT).passed


def test_pending_batches_are_those_no_build_with_a_verdict_passed(fresh_dsn: str) -> None:
    from credit_dw.quality import night, publish

    batch = night_with_history(fresh_dsn, 20)
    with psycopg.connect(fresh_dsn) as conn:
        everything = night.pending_batches(conn)
    assert batch in everything and len(everything) == 8   # seven nights of history and tonight
    gate.validate_feeds("build-1", [batch], as_of=NIGHT)
    with psycopg.connect(fresh_dsn) as conn:
        assert batch in night.pending_batches(conn), "a build without a verdict (killed) gated nothing"
    publish.record_blocked("build-1", "marts: a later stage failed")
    with psycopg.connect(fresh_dsn) as conn:
        assert batch not in night.pending_batches(conn), "its feed suites passed in a build with a verdict"
        (gated,) = conn.execute("select gated_batch_ids from quality.publication where run_id = 'build-1'").fetchone()
    assert gated == [batch]


def test_a_batch_whose_gate_failed_stays_pending_until_a_steward_accepts_it(fresh_dsn: str) -> None:
    from credit_dw.quality import night, publish

    batch = night_with_history(fresh_dsn, 60)
    with psycopg.connect(fresh_dsn) as conn:
        _reject(conn, batch, 40)
    assert not gate.validate_feeds("build-2", [batch], as_of=NIGHT).passed
    publish.record_blocked("build-2", "feeds: rejects")
    with psycopg.connect(fresh_dsn) as conn:
        assert batch in night.pending_batches(conn)
        conn.execute("insert into governance.batch_acceptance (batch_id, accepted_by, reason)"
                     " values (%s, 'steward-a', 'department confirmed the rest is complete')", (batch,))
        assert batch not in night.pending_batches(conn)


_GATE_PEAK_RSS = """
import resource, sys
from datetime import date
from credit_dw.quality import gate
gate.validate_feeds(sys.argv[1], [int(sys.argv[2])], as_of=date.fromisoformat(sys.argv[3]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _gate_peak_rss_mib(dsn: str, run_id: str, batch: int) -> int:
    """Peak RSS of a fresh process that runs the feeds gate on one batch (its own GX context)."""
    env = {**os.environ, "WAREHOUSE_DSN": dsn}
    done = subprocess.run([sys.executable, "-c", _GATE_PEAK_RSS, run_id, str(batch), NIGHT.isoformat()],
                          env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_gate_memory_does_not_grow_with_the_night(fresh_dsn: str) -> None:
    """GX reflects a query asset by running the query unbounded, and psycopg2 buffers every row
    in the client: 300k raw rows of ~1 KiB made the gate ~300 MiB bigger until the datasource
    stored query batches in a temporary table (``context._datasource``)."""
    small = night_with_history(fresh_dsn, 1000)
    with psycopg.connect(fresh_dsn) as conn:
        big = add_delivery(conn, "registration", NIGHT, 300_000)
        conn.execute(
            "insert into raw.registration (uscc, uscc_check_failed, name, subject_type, status, updated_at,"
            " batch_id, source_file, source_row)"
            " select '91110000MA' || lpad(g::text, 7, '0') || 'X', false, repeat('公司', 300) || g, '企业',"
            " '存续', '2026-03-09 10:00:00', %s, 'registration.csv', g + 1 from generate_series(1, 300000) g",
            (big,))
    baseline = _gate_peak_rss_mib(fresh_dsn, "feeds-rss-small", small)
    grown = _gate_peak_rss_mib(fresh_dsn, "feeds-rss-big", big)
    assert grown - baseline < 100, f"feeds gate peak RSS {baseline} MiB at 1k rows, {grown} MiB at 300k rows"
