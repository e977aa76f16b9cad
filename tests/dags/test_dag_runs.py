"""Real Airflow runs (``airflow dags test``) of the spine: ingest DAGs and ``build_warehouse``.

One module, run in order on one fresh warehouse: ingest the bundled samples day by day, rerun
(nothing reloads), a missing delivery fails with a clear message, a good night publishes, a
poisoned night is blocked and the published marts stay byte-for-byte what they were.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from conftest import run_dag
from credit_dw.commands.demo import SAMPLES, stage_samples
from credit_dw.feeds import all_specs
from credit_dw.identifiers import USCC_ALPHABET, normalise, uscc_check_char, uscc_shape_ok

pytestmark = pytest.mark.slow

FEEDS = [s.feed for s in all_specs()]
MARTS = ["dim_credit_subject", "fct_credit_record", "subject_credit_profile", "public_disclosure",
         "joint_discipline_list"]


@pytest.fixture(scope="module")
def night(airflow_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    days = stage_samples(SAMPLES, root)
    env = {**airflow_env, "LANDING_ROOT": str(root)}
    logs = tmp_path_factory.mktemp("dag_logs")
    return {"env": env, "days": days, "root": root, "logs": logs, "dsn": airflow_env["WAREHOUSE_DSN"]}


def _run(night, dag_id: str, day: date):
    done = run_dag(night["env"], dag_id, day.isoformat(), night["logs"])
    return done, (done.stdout + done.stderr)


def _query(dsn: str, sql: str, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def _mart_checksums(dsn: str) -> dict[str, str]:
    return {
        m: _query(dsn, f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from marts.{m} t")[0][0]
        for m in MARTS
    }


def test_ingest_every_feed_for_the_first_day(night):
    day = night["days"][0]
    for feed in FEEDS:
        done, log = _run(night, f"ingest_{feed}", day)
        assert done.returncode == 0, log[-4000:]
    rows = _query(night["dsn"], "select feed, status, rows_read, rows_loaded, rows_rejected"
                                " from quality.batch_manifest where delivery_date = %s", (day,))
    assert {r[0] for r in rows} == set(FEEDS)
    assert all(r[1] == "loaded" and r[2] == r[3] + r[4] for r in rows), rows
    assert sum(r[4] for r in rows) > 0, "the samples carry defects; some rows must be quarantined"


def test_rerun_of_an_ingest_reloads_nothing(night):
    day = night["days"][0]
    before = _query(night["dsn"], "select count(*), sum(rows_loaded) from quality.batch_manifest")
    raw_before = _query(night["dsn"], "select count(*) from raw.penalty")
    done, log = _run(night, "ingest_penalty", day)
    assert done.returncode == 0, log[-4000:]
    assert _query(night["dsn"], "select count(*), sum(rows_loaded) from quality.batch_manifest") == before
    assert _query(night["dsn"], "select count(*) from raw.penalty") == raw_before


def test_judicial_snapshot_over_two_days_records_removals(night):
    second = night["days"][1]
    done, log = _run(night, "ingest_judicial", second)
    assert done.returncode == 0, log[-4000:]
    removed = _query(night["dsn"], "select count(*) from raw.judicial_listing where removed_on = %s", (second,))
    still = _query(night["dsn"], "select count(*) from raw.judicial_listing where last_seen_on = %s", (second,))
    assert removed[0][0] > 0 and still[0][0] > 0


def test_missing_delivery_fails_with_a_clear_message(night):
    day = night["days"][-1] + timedelta(days=5)  # after the DAG's start date, never delivered
    done, log = _run(night, "ingest_penalty", day)
    assert done.returncode != 0
    assert f"penalty/{day.isoformat()}/_DONE did not appear" in log


def test_good_night_publishes(night):
    day = night["days"][0]
    done, log = _run(night, "build_warehouse", day)
    assert done.returncode == 0, log[-6000:]
    verdict = _query(night["dsn"], "select verdict from quality.publication order by publication_id desc limit 1")
    assert verdict == [("published",)]
    for mart in MARTS:
        assert _query(night["dsn"], f"select count(*) from marts.{mart}")[0][0] > 0, mart
    # dbt_foundation builds models only (seeds are its alone): the night's tests run in dbt_tests
    foundation = [line for line in log.splitlines() if "Finished running" in line and " seeds" in line]
    assert foundation and not any("test" in line for line in foundation), foundation
    # every dbt task reuses the partial parse (the three outside Cosmos' group included); at most
    # the first parses afresh, if the manifest was parsed for another profile
    assert log.count("Starting full parse") <= 1


def _poison_registration(source: Path, target: Path, share: float = 0.4) -> None:
    """Copy a registration delivery with the check character of ``share`` of the USCCs broken.

    Such rows pass row parsing (the registration feed may carry checksum-failing codes, flagged
    as register anomalies), so only the feed suite's identifier-validity ratio can catch them.
    """
    raw = source.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    # surrogateescape: the sample deliberately carries an undecodable line; keep it byte for byte
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig", errors="surrogateescape"), newline=""))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
    writer.writeheader()
    for i, row in enumerate(reader):
        code = normalise(row["TYSHXYDM"])
        if i % 10 < share * 10 and uscc_shape_ok(code):
            good = uscc_check_char(code[:17])
            row["TYSHXYDM"] = code[:17] + next(c for c in USCC_ALPHABET if c != good)
            row["GXSJ"] = "2026-12-31 00:00:00"
        writer.writerow(row)
    target.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(errors="surrogateescape"))


def test_poisoned_night_is_blocked_and_marts_stay_intact(night):
    before = _mart_checksums(night["dsn"])
    good_day = night["days"][0]
    poisoned_day = night["days"][-1] + timedelta(days=1)
    folder = night["root"] / "registration" / poisoned_day.isoformat()
    folder.mkdir(parents=True)
    source = next((night["root"] / "registration" / good_day.isoformat()).glob("*.csv"))
    _poison_registration(source, folder / f"registration_{poisoned_day:%Y%m%d}.csv")
    (folder / "_DONE").touch()

    done, log = _run(night, "ingest_registration", poisoned_day)
    assert done.returncode == 0, log[-4000:]
    done, log = _run(night, "build_warehouse", poisoned_day)
    assert done.returncode != 0, "a poisoned night must fail the build"
    verdict = _query(night["dsn"], "select verdict, message from quality.publication"
                                   " order by publication_id desc limit 1")[0]
    assert verdict[0] == "blocked"
    failed = _query(night["dsn"], "select suite, failed_expectations::text from quality.validation_run"
                                  " where not success order by validation_id desc")
    assert failed, "the failing validation is stored even though the run failed"
    assert _mart_checksums(night["dsn"]) == before
