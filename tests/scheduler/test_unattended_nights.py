"""The nightly pipeline run by the real scheduler, as deployed: nobody triggers anything.

A fresh warehouse, the sample deliveries staged as the three nights before yesterday, the
start date just before them, and Airflow's api-server, scheduler, dag-processor and a Celery
worker (Redis) started as separate processes. Then, in order, on the same deployment:

1. the scheduler catches up the sample nights: every night ingested by a *scheduled* run,
   builds started by Asset events succeed, every loaded batch is gated in a published build;
2. a night whose penalty delivery has 40 % of its rows rejected, with the tax delivery's
   ``_DONE`` written late: the late delivery is ingested and gated by the next build, the
   breach blocks publication (alerted once, naming the file and reasons) and the published
   marts stay byte-identical;
3. clearing a past ingest run loads nothing new (nor do identical re-deliveries of later nights).

Times per phase are printed (``pytest -s``). The components stop even when the test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from conftest import create_fresh_database, drop_database
from credit_dw.commands.demo import SAMPLES
from credit_dw.config import today
from credit_dw.feeds import all_specs
from credit_dw.identifiers import USCC_ALPHABET, uscc_check_char, uscc_shape_ok
from scheduler.deployment import deployment

pytestmark = pytest.mark.slow

FEEDS = sorted(s.feed for s in all_specs())
MARTS = ["dim_credit_subject", "fct_credit_record", "subject_credit_profile", "public_disclosure",
         "joint_discipline_list"]
_USCC_TOKEN = re.compile(rb"(?<![0-9A-Z])[0-9A-HJ-NP-RTUWXY]{18}(?![0-9A-Z])")


def _sample_nights() -> list[str]:
    return sorted({d.parent.name for d in SAMPLES.glob("*/*/_DONE")})


def _stage(sample_day: str, night: date, root: Path, feeds: list[str], *, done: bool = True,
           poison: Callable[[bytes], bytes] | None = None) -> None:
    """Copy one sample night's files of ``feeds`` as the delivery of ``night``; ``_DONE`` last."""
    for feed in feeds:
        source = SAMPLES / feed / sample_day
        target = root / feed / night.isoformat()
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.iterdir()):
            if f.name != "_DONE":
                data = f.read_bytes()
                (target / f.name).write_bytes(poison(data) if poison and f.suffix == ".csv" else data)
        if done:
            (target / "_DONE").touch()


def _break_check_chars(data: bytes, share: float = 0.4) -> bytes:
    """Break the USCC check character on ``share`` of the data lines (encoding-agnostic: ASCII)."""
    lines = data.split(b"\n")
    for i in range(1, len(lines)):
        if (i % 10) >= share * 10:
            continue
        for match in _USCC_TOKEN.finditer(lines[i]):
            code = match.group().decode()
            if uscc_shape_ok(code) and uscc_check_char(code[:17]) == code[17]:
                wrong = next(c for c in USCC_ALPHABET if c != code[17])
                lines[i] = lines[i][:match.end() - 1] + wrong.encode() + lines[i][match.end():]
                break
    return b"\n".join(lines)


def _wait(what: str, condition: Callable[[], object], deployed, timeout_s: float) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deployed.assert_alive()
        value = condition()
        if value:
            return value
        time.sleep(3)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for: {what}; logs in {deployed.logs}")


def _query(dsn: str, sql: str, params: object = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def _checksums(dsn: str) -> dict[str, str]:
    return {m: _query(dsn, f"select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                           f" from marts.{m} t")[0][0] for m in MARTS}


def _loaded(dsn: str, feed: str, night: date) -> bool:
    return bool(_query(dsn, "select 1 from quality.batch_manifest where feed = %s and delivery_date = %s"
                            " and status = 'loaded'", (feed, night)))


def _builds_running(deployed) -> int:
    return deployed.metadata("select count(*) from dag_run where dag_id = 'build_warehouse'"
                             " and state in ('queued', 'running')")[0][0]


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    """The deployment and its fresh warehouse; nights relative to today (Asia/Shanghai)."""
    from credit_dw import db
    from credit_dw.airflow_env import airflow_environment, metadata_dsn
    from credit_dw.commands.airflow import airflow_executable
    from credit_dw.orchestration.dbt_group import ensure_manifest

    t = today()
    nights = [t - timedelta(days=4), t - timedelta(days=3), t - timedelta(days=2)]
    root = tmp_path_factory.mktemp("landing")
    samples = _sample_nights()
    for sample_day, night in zip(samples[:2], nights[:2], strict=True):
        _stage(sample_day, night, root, FEEDS)

    dsn = create_fresh_database("credit_dw_sched")
    logs = tmp_path_factory.mktemp("airflow_logs")
    saved = dict(os.environ)
    os.environ.update({
        "WAREHOUSE_DSN": dsn,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "LANDING_ROOT": str(root),
        "CREDIT_DW_START_DATE": nights[0].isoformat(),
        # seconds, not the production 5 minutes, between looks for _DONE; a late night still waits
        "CREDIT_DW_POKE_INTERVAL_SECONDS": "5",
        "CREDIT_DW_DONE_TIMEOUT_HOURS": "120",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs / "tasks"),
    })
    try:
        env = airflow_environment()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    db.ensure_database(metadata_dsn(dsn))
    airflow = airflow_executable()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    ensure_manifest()
    started = time.monotonic()
    try:
        with deployment(env, logs, metadata_dsn(dsn), airflow, tmp_path_factory.mktemp("redis")) as deployed:
            yield {"deployed": deployed, "dsn": dsn, "root": root, "nights": nights, "samples": samples,
                   "airflow": airflow, "started": started}
    finally:
        print(f"\nscheduler test: {time.monotonic() - started:.0f} s with the components up; logs in {logs}")
        drop_database(metadata_dsn(dsn))
        drop_database(dsn)
        shutil.rmtree(root, ignore_errors=True)


def test_the_scheduler_catches_up_the_sample_nights(scheduled):
    deployed, dsn, nights = scheduled["deployed"], scheduled["dsn"], scheduled["nights"][:2]
    t0 = time.monotonic()

    def all_gated_and_published() -> bool:
        if not all(_loaded(dsn, f, n) for f in FEEDS for n in nights):
            return False
        pending = _query(dsn, "select count(*) from quality.pending_batch")[0][0]
        published = _query(dsn, "select count(*) from quality.publication where verdict = 'published'")[0][0]
        return pending == 0 and published > 0 and _builds_running(deployed) == 0

    _wait("every sample night ingested, gated and published", all_gated_and_published, deployed, 2700)
    print(f"\nphase 1 (catch-up of {len(nights)} nights x {len(FEEDS)} feeds): {time.monotonic() - t0:.0f} s")

    runs = set(deployed.metadata(
        "select dag_id, run_type, (logical_date at time zone 'Asia/Shanghai')::date from dag_run"
        " where dag_id like 'ingest\\_%%' and state = 'success'"))
    for feed in FEEDS:
        for night in nights:
            assert (f"ingest_{feed}", "scheduled", night) in runs, (feed, night, runs)
    asset_builds = deployed.metadata(
        "select run_id, state, logical_date from dag_run where dag_id = 'build_warehouse'"
        " and run_type = 'asset_triggered'")
    succeeded = [r for r in asset_builds if r[1] == "success"]
    assert succeeded, f"no Asset-triggered build succeeded: {asset_builds}"
    assert all(r[2] is None for r in asset_builds), "Asset-triggered runs have no logical date"
    ungated = _query(dsn, "select batch_id from quality.batch_manifest where status = 'loaded'"
                          " except select unnest(gated_batch_ids) from quality.publication where verdict = 'published'")
    assert ungated == [], "every loaded batch is validated by a feed suite in a published build"
    published = _query(dsn, "select run_type, triggering_events, as_of from quality.publication"
                            " where verdict = 'published' and run_type = 'asset_triggered'")
    assert published, "an Asset-triggered build published"
    events = [e for _, evs, _ in published for e in evs]
    assert events and all({"feed", "delivery_date", "batch_ids"} <= set(e) for e in events), events
    assert all(as_of is not None for *_, as_of in published)
    failed = deployed.metadata("select dag_id, run_id from dag_run where state = 'failed'")
    assert failed == [], f"no run may fail on the sample nights: {failed}"


def test_a_breaching_night_with_a_late_delivery_is_gated_and_blocked(scheduled):
    deployed, dsn, root = scheduled["deployed"], scheduled["dsn"], scheduled["root"]
    night, sample_day = scheduled["nights"][2], scheduled["samples"][2]
    before = _checksums(dsn)
    last_publication = _query(dsn, "select coalesce(max(publication_id), 0) from quality.publication")[0][0]
    t0 = time.monotonic()

    others = [f for f in FEEDS if f not in ("tax", "penalty")]
    _stage(sample_day, night, root, others)
    _stage(sample_day, night, root, ["penalty"], poison=_break_check_chars)
    _stage(sample_day, night, root, ["tax"], done=False)           # the tax office is late
    _wait("the punctual deliveries ingested", lambda: all(_loaded(dsn, f, night) for f in [*others, "penalty"]),
          deployed, 600)
    assert not _loaded(dsn, "tax", night), "no _DONE, no ingestion"
    time.sleep(10)  # builds started by those events find the night incomplete and skip
    assert _query(dsn, "select count(*) from quality.publication where publication_id > %s",
                  (last_publication,))[0][0] == 0, "nothing is built before the night's deliveries are in"

    (root / "tax" / night.isoformat() / "_DONE").touch()           # ... and delivers after all
    _wait("the late tax delivery ingested", lambda: _loaded(dsn, "tax", night), deployed, 300)
    verdict = _wait("a build's verdict on the night", lambda: _query(
        dsn, "select run_id, verdict, message, gated_batch_ids from quality.publication"
             " where publication_id > %s order by publication_id", (last_publication,)), deployed, 1800)
    print(f"\nphase 2 (late delivery, 40 % rejected night): {time.monotonic() - t0:.0f} s")

    run_id, outcome, message, gated = verdict[0]
    assert outcome == "blocked"
    assert "penalty" in message and "rejected" in message and "top reasons" in message, message
    tax_batches = {b for (b,) in _query(dsn, "select batch_id from quality.batch_manifest"
                                             " where feed = 'tax' and delivery_date = %s", (night,))}
    assert tax_batches <= set(gated), "the late delivery is gated by the next build"
    passed = _query(dsn, "select bool_and(passed) from quality.gated_batch where run_id = %s"
                         " and batch_id = any(%s)", (run_id, list(tax_batches)))[0][0]
    assert passed, "the late tax delivery itself passed its suites"
    assert _query(dsn, "select success from quality.validation_run where run_id = %s and suite = 'rejects_penalty'",
                  (run_id,)) == [(False,)]
    _wait("the blocked build finished", lambda: _builds_running(deployed) == 0, deployed, 900)
    assert _checksums(dsn) == before, "a blocked night leaves the published marts byte-identical"
    alerts = _query(dsn, "select summary from quality.alert where dag_id = 'build_warehouse'")
    assert len(alerts) == 1 and "rejected" in alerts[0][0], alerts


def test_clearing_a_past_ingest_run_loads_nothing_new(scheduled):
    deployed, dsn, airflow = scheduled["deployed"], scheduled["dsn"], scheduled["airflow"]
    night = scheduled["nights"][0]
    manifest = _query(dsn, "select count(*), sum(rows_loaded) from quality.batch_manifest")
    raw = _query(dsn, "select count(*) from raw.penalty")
    builds = deployed.metadata("select count(*) from dag_run where dag_id = 'build_warehouse'")
    # Each ingest DAG runs one night at a time (max_active_runs=1, so nights load in order): a
    # later night's run waiting for its _DONE holds the slot and a cleared run queues behind it,
    # as in production. The department re-sends those nights with files already loaded: they
    # load nothing new either, and the cleared run gets its turn.
    root = scheduled["root"]
    day = scheduled["nights"][2] + timedelta(days=1)
    while day < today():
        folder = root / "penalty" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for f in (root / "penalty" / night.isoformat()).iterdir():
            if f.name != "_DONE":
                shutil.copy2(f, folder / f.name)
        (folder / "_DONE").touch()
        day += timedelta(days=1)
    cleared = deployed.airflow(airflow, "tasks", "clear", "ingest_penalty", "--yes",
                               "--start-date", night.isoformat(), "--end-date", (night + timedelta(days=1)).isoformat())
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr

    def load_files_states() -> list[tuple]:
        return deployed.metadata(
            "select ti.state from task_instance ti join dag_run r using (dag_id, run_id)"
            " where ti.dag_id = 'ingest_penalty' and ti.task_id = 'load_files'"
            " and (r.logical_date at time zone 'Asia/Shanghai')::date = %s", (night,))

    def rerun_done() -> bool:
        states = load_files_states()
        return bool(states) and all(s in ("skipped", "success", "failed") for (s,) in states)

    _wait("the cleared run ran again", rerun_done, deployed, 900)
    assert load_files_states() == [("skipped",)], "a rerun that loads nothing new is skipped and updates no Asset"
    assert _query(dsn, "select count(*), sum(rows_loaded) from quality.batch_manifest") == manifest
    assert _query(dsn, "select count(*) from raw.penalty") == raw
    time.sleep(10)
    assert deployed.metadata("select count(*) from dag_run where dag_id = 'build_warehouse'") == builds
