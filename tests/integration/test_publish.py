"""Marts gate and publish swap against a real PostgreSQL, with tiny hand-made candidate marts.

dbt's marts are being written in parallel, so the candidates here are small tables with the
column names the suites rely on (``credit_dw.quality.suites.MART_TABLES``), created as role
transformer exactly as dbt would.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from credit_dw.quality import gate, publish

CLEAR_ID = "110101199003071234"

_MARTS = {
    "dim_credit_subject": "subject_key text, uscc text, name text, registration_number text",
    "fct_credit_record": "record_id text, subject_key text, status text, publicity_start date,"
                         " publicity_end date, facts text",
    "subject_credit_profile": "subject_key text, records integer, grade text",
    "public_disclosure": "record_id text, uscc text, publicity_start date, publicity_end date,"
                         " summary text, status text, disclosed_as_of date",
    "joint_discipline_list": "subject_key text, record_id text, measure text",
}


@pytest.fixture(autouse=True)
def _gx_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_DW_GX_ROOT", str(tmp_path_factory.getbasetemp() / "gx_publish"))


def build_candidate(dsn: str, generation: int, poison: frozenset[str] = frozenset()) -> None:
    """(Re)create the five core marts in marts_candidate, as transformer, marked ``generation``."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set local role transformer")
        for table, columns in _MARTS.items():
            conn.execute(f"drop table if exists marts_candidate.{table}")
            conn.execute(f"create table marts_candidate.{table} ({columns}, generation integer)")
        g = generation
        conn.execute(
            "insert into marts_candidate.dim_credit_subject values"
            " ('s1', '91110000600037341L', '甲公司', '110000000000000', %(g)s),"
            " ('s2', '121200004013590816', '乙中心', null, %(g)s)", {"g": g})
        conn.execute(
            "insert into marts_candidate.fct_credit_record values"
            " ('r1', 's1', 'active', '2025-01-01', '2026-12-31', '罚款 2 万元', %(g)s),"
            " ('r2', 's2', 'expired', '2020-01-01', '2021-01-01', '警告', %(g)s)", {"g": g})
        if "duplicate_key" in poison:
            conn.execute(
                "insert into marts_candidate.fct_credit_record values"
                " ('r1', 's1', 'active', '2025-01-01', '2026-12-31', 'copy', %(g)s)", {"g": g})
        summary = f"法定代表人身份证 {CLEAR_ID}" if "clear_id" in poison else "罚款"
        conn.execute(
            "insert into marts_candidate.public_disclosure values"
            " ('r1', '121200004013590816', '2025-01-01', '2026-12-31', %(s)s, 'active', '2026-06-01', %(g)s)",
            {"g": g, "s": summary})
        conn.execute("insert into marts_candidate.subject_credit_profile values ('s1', 1, 'B', %(g)s),"
                     " ('s2', 1, 'A', %(g)s)", {"g": g})
        conn.execute("insert into marts_candidate.joint_discipline_list values ('s1', 'r1', '限制', %(g)s)",
                     {"g": g})


def checksums(dsn: str, schema: str = "marts") -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            t: conn.execute(
                f"select md5(string_agg(t::text, ',' order by t::text)) from {schema}.{t} t"
            ).fetchone()[0]
            for t in _MARTS
        }


AS_OF = __import__("datetime").date(2026, 6, 1)


def test_good_candidate_passes_and_is_published(fresh_dsn: str) -> None:
    build_candidate(fresh_dsn, 1)
    result = gate.validate_candidate_marts("run-good", as_of=AS_OF)
    assert result.passed, result.describe()
    gate.assert_passed(result)
    expected = checksums(fresh_dsn, "marts_candidate")

    publish.publish("run-good")

    assert checksums(fresh_dsn) == expected
    with psycopg.connect(fresh_dsn) as conn:
        verdict, counts = conn.execute(
            "select verdict, mart_row_counts from quality.publication where run_id = 'run-good'"
        ).fetchone()
        assert verdict == "published"
        assert counts["fct_credit_record"] == 2
        stored = conn.execute(
            "select count(*), bool_and(success) from quality.validation_run where run_id = 'run-good'"
        ).fetchone()
        assert stored == (5, True)
        with conn.transaction():
            conn.execute("set local role analyst")
            assert conn.execute("select count(*) from marts.public_disclosure").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("set local role analyst")
            conn.execute("select count(*) from marts_candidate.public_disclosure")


def test_poisoned_candidate_is_blocked_and_marts_unchanged(fresh_dsn: str) -> None:
    build_candidate(fresh_dsn, 1)
    gate.assert_passed(gate.validate_candidate_marts("run-1", as_of=AS_OF))
    publish.publish("run-1")
    published = checksums(fresh_dsn)

    build_candidate(fresh_dsn, 2, poison=frozenset({"duplicate_key", "clear_id"}))
    result = gate.validate_candidate_marts("run-2", as_of=AS_OF)
    assert not result.passed
    with pytest.raises(gate.QualityGateError) as caught:
        gate.assert_passed(result)
    message = str(caught.value)
    assert "suite mart_fct_credit_record: marts_candidate.fct_credit_record.record_id" in message
    assert "expect_column_values_to_be_unique" in message
    assert "marts_candidate.public_disclosure.summary unexpected_rows_expectation (no text column holds a clear ID" \
        in message
    assert CLEAR_ID not in message
    publish.record_blocked("run-2", message)
    with pytest.raises(publish.PublishError, match="failed for run run-2"):
        publish.publish("run-2")

    assert checksums(fresh_dsn) == published
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute(
            "select suite, success, failed_expectations::text from quality.validation_run"
            " where run_id = 'run-2' order by suite"
        ).fetchall()
        assert {s for s, ok, _ in rows if not ok} == {"mart_fct_credit_record", "mart_public_disclosure"}
        failed_text = " ".join(f for _, _, f in rows)
        # the leak check names the row and the column, never the value (not even masked)
        assert CLEAR_ID not in failed_text and "1101**********1234" not in failed_text
        assert '"sample_unexpected": [{"record_id": "r1", "columns_with_clear_id": "summary"}]' in failed_text
        assert conn.execute(
            "select verdict from quality.publication where run_id = 'run-2'"
        ).fetchone() == ("blocked",)


def test_a_row_quoting_its_own_identifiers_is_no_leak_but_an_id_beside_them_is(fresh_dsn: str) -> None:
    """A steward's message may quote the row's all-digit USCC and 15-digit registration number
    (``register_anomalies.detail``, its ``subject:<key>`` scope): the pattern alone cannot tell
    those from ID numbers, and at province scale they blocked every publication."""
    build_candidate(fresh_dsn, 1)
    uscc, regno = "121200004013590816", "110000000000000"
    with psycopg.connect(fresh_dsn) as conn, conn.transaction():
        conn.execute("set local role transformer")
        conn.execute("create table marts_candidate.register_anomalies (anomaly_id text unique, subject_key text,"
                     " uscc text, registration_number text, organisation_code text, detail text, scope_key text)")
        conn.execute(
            "insert into marts_candidate.register_anomalies values ('a1', %(u)s, %(u)s, %(r)s, '400135908',"
            " 'the tax record names USCC ' || %(u)s || ' with registration number ' || %(r)s, 'subject:' || %(u)s)",
            {"u": uscc, "r": regno})
    result = gate.validate_candidate_marts("run-quotes", as_of=AS_OF)
    assert result.passed, result.describe()

    with psycopg.connect(fresh_dsn) as conn:
        # the organisation code is part of the ID: stripping it would hide the ID, so it stays
        conn.execute(
            "insert into marts_candidate.register_anomalies values ('a2', %(u)s, %(u)s, %(r)s, '199003071',"
            " 'USCC ' || %(u)s || ', 法定代表人 ' || %(id)s, 'subject:' || %(u)s)",
            {"u": uscc, "r": regno, "id": CLEAR_ID})
    result = gate.validate_candidate_marts("run-leak", as_of=AS_OF)
    assert not result.passed
    with psycopg.connect(fresh_dsn) as conn:
        failed = conn.execute(
            "select failed_expectations::text from quality.validation_run"
            " where run_id = 'run-leak' and suite = 'mart_register_anomalies'"
        ).fetchone()[0]
    # one row, a2 (named by the table's unique key), and only by its detail
    assert '"sample_unexpected": [{"anomaly_id": "a2", "columns_with_clear_id": "detail"}]' in failed
    assert CLEAR_ID not in failed


def test_missing_mart_and_window_violations_fail(fresh_dsn: str) -> None:
    build_candidate(fresh_dsn, 1)
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("drop table marts_candidate.joint_discipline_list")
        conn.execute("insert into marts_candidate.public_disclosure values"
                     " ('r9', null, '2020-01-01', '2020-06-01', 'x', 'active', '2026-06-01', 1)")
        conn.execute("insert into marts_candidate.fct_credit_record values"
                     " ('r8', 's1', 'unknown', '2025-01-01', '2024-01-01', 'x', 1)")
    result = gate.validate_candidate_marts("run-w")   # window on the mart's disclosed_as_of
    failed = {(o.suite, f["expectation"], f.get("description") or f.get("column"))
              for o, f in result.failures()}
    # every failure is the data's, none an expectation that could not run (e.g. bad SQL)
    assert not [f for _, f in result.failures() if str(f.get("observed", "")).startswith("error:")]
    assert ("mart_joint_discipline_list", "table_exists",
            "marts_candidate.joint_discipline_list does not exist: did dbt build it?") in failed
    assert ("mart_public_disclosure", "unexpected_rows_expectation",
            "every row is inside its publicity window on max(disclosed_as_of)") in failed
    assert ("mart_public_disclosure", "unexpected_rows_expectation",
            "every record_id exists in fct_credit_record") in failed
    assert ("mart_fct_credit_record", "unexpected_rows_expectation",
            "publicity_end is not before publicity_start") in failed
    assert ("mart_fct_credit_record", "expect_column_values_to_be_in_set", "status") in failed


def test_readers_never_see_a_mix_or_an_error_during_publishes(fresh_dsn: str) -> None:
    build_candidate(fresh_dsn, 1)
    publish.publish("seed", require_gate=False)
    build_candidate(fresh_dsn, 2)   # marts holds generation 1, the candidate generation 2

    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[int, ...]] = []

    def reader() -> None:
        try:
            with psycopg.connect(fresh_dsn, autocommit=True) as conn:
                conn.execute("set role analyst")
                while not stop.is_set():
                    row = conn.execute(
                        "select (select array_agg(distinct generation) from marts.dim_credit_subject),"
                        " (select array_agg(distinct f.generation) || array_agg(distinct p.generation)"
                        "   from marts.fct_credit_record f"
                        "   join marts.public_disclosure p using (record_id)),"
                        " (select array_agg(distinct generation) from marts.joint_discipline_list)"
                    ).fetchone()
                    gens = {g for arr in row for g in arr}
                    if len(gens) != 1:
                        raise AssertionError(f"mixed state seen: {row}")
                    seen.append(tuple(gens))
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(15):
        publish.publish(f"swap-{i}", require_gate=False)
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    assert not errors, errors
    assert {(1,), (2,)} <= set(seen)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute(
            "select count(*) from quality.publication where verdict = 'published'"
        ).fetchone()[0] == 16
