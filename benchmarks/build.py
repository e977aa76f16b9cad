"""Build warehouses of N credit records from generated deliveries; time full and nightly builds.

Per size, in one run on a fresh database:

1. generate the history (day D) and the next night's delta (day D+1, ~1 % of N) — see
   ``deliveries``; ingest the history with ``ingest_delivery``;
2. ``dbt build --full-refresh`` (as of D), every test included: the **full build**;
3. ingest the delta; ``dbt build --selector nightly`` (as of D+1), the nightly command
   (incremental on tonight's change set, the night's tests): the **incremental build**;
4. publish (schema swap, gate not run) and measure median and p99 latency of a subject
   profile lookup by USCC and of a name search on the published marts (``latency``).

Every phase records its wall time and peak memory (``harness.phase``: this process tree, the
database's backends, the machine), and the disk used after ingest, full build and night.
``--gate`` also runs the two GX gates (the pending batches before the full build, the candidate
marts after it); ``--register`` sizes the register apart from the records; ``--no-night`` stops
after the full build; ``--no-publish`` keeps the night's marts as candidates and measures the
latency there (at 10M the published copy and its history would not fit this machine's disk).
The province (DOMAIN.md §5) is::

    nice -n 10 .venv/bin/python benchmarks/build.py --records 10000000 --register 20000000 \
        --gate --no-night --tag province

Results: ``<out>/build_<N>[_<tag>].json`` per size, a markdown table on stdout. Example::

    nice -n 10 .venv/bin/python benchmarks/build.py --records 1000000 --gate --out benchmarks/results/

Targets (issue 10): incremental ≤ 15 % of full at 1M and ≤ 10 % at 10M; profile lookup median
≤ 5 ms at 10M; the province ≤ 30 minutes end to end (ingest, full build, gate).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import deliveries
import harness
import latency
import loading
import psycopg
import workarounds

TARGET_INCREMENTAL_RATIO = 0.10  # at 10M
TARGET_INCREMENTAL_RATIO_1M = 0.15
TARGET_PROVINCE_SECONDS = 30 * 60  # ingest, full build and gate
TARGET_PROFILE_MEDIAN_MS = 5.0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    harness.prepare_environment()
    args.applied = workarounds.apply(args.workaround or [])
    results = []
    for records in args.records:
        print(f"== {harness.human(records)} credit records", file=sys.stderr, flush=True)
        result = run_size(records, args)
        suffix = f"_{args.tag}" if args.tag else ""
        path = harness.write_json(args.out / f"build_{harness.human(records)}{suffix}.json", result)
        print(f"  results: {path}", file=sys.stderr, flush=True)
        results.append(result)
    print(summary_table(results))
    return 0


def run_size(records: int, args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench_{harness.human(records)}_", dir=args.work_dir))
    landing = args.deliveries / harness.human(records) if args.deliveries else work / "landing"
    layout = deliveries.Layout(landing, args.start, args.seed, args.defect_rate)
    feeds = feed_names()
    deliveries.check_mix(feeds)
    history = deliveries.history_volumes(records, args.register)
    fraction = deliveries.delta_fraction(history, records, args.delta_share)
    times: dict[str, float] = {}
    memory: dict[str, dict] = {}
    disk: dict[str, dict] = {}
    result: dict = {
        "benchmark": "build",
        "records_target": records,
        "machine": harness.machine(),
        "parameters": {"seed": args.seed, "start": args.start.isoformat(), "defect_rate": args.defect_rate,
                       "delta_share": args.delta_share, "jobs": args.jobs, "register": history.registration,
                       "gate": args.gate, "night": not args.no_night, "publish": not args.no_publish,
                       "dbt_threads": os.environ.get("DBT_THREADS", "2"),
                       "pgoptions": os.environ.get("PGOPTIONS", ""),
                       "deliveries": str(args.deliveries) if args.deliveries else None},
        "volumes": {"history": deliveries.describe(history), "delta_fraction_of_other_feeds": round(fraction, 5)},
        "workarounds": args.applied,
        "tag": args.tag,
        "seconds": times,
        "peak_memory_mib": memory,
        "disk_bytes_after": disk,
    }

    partial = args.out / f"build_{harness.human(records)}{f'_{args.tag}' if args.tag else ''}.partial.json"

    @contextmanager
    def step(key: str):
        """One phase, timed and metered; what is measured so far is written after each phase
        (``*.partial.json``), so a run stopped half-way still leaves its figures."""
        with harness.phase(times, memory, key, dsn):
            yield
        harness.write_json(partial, {**result, "partial": True, "completed_phases": list(times)})

    def measure_disk(key: str) -> None:
        disk[key] = {"database": database_size(dsn), "deliveries": harness.directory_bytes(layout.root)}

    if args.deliveries:
        deliveries.check_reuse(layout, {"records": records, "register": history.registration, "seed": args.seed,
                                        "start": args.start.isoformat(), "defect_rate": args.defect_rate,
                                        "delta_share": args.delta_share})
    try:
        with harness.fresh_database(keep=args.keep) as dsn:
            os.environ["WAREHOUSE_DSN"] = dsn
            result["postgres"] = harness.server(dsn)
            with step("generate_history"):
                result["generated_history"] = deliveries.write_all(
                    layout, deliveries.history_tasks(layout, history), args.jobs)
            if not args.no_night:
                with step("generate_delta"):
                    result["generated_delta"] = deliveries.write_all(
                        layout, deliveries.delta_tasks(layout, history, fraction), args.jobs)
            with step("ingest_history"):
                result["ingested_history"] = loading.ingest_all(
                    [(f, layout.history_day) for f in feeds], dsn, layout.root, args.jobs)
            measure_disk("ingest_history")
            result["raw_rows_after_history"] = raw_counts(dsn)
            age_history(dsn, layout.history_day)
            if args.gate:
                with step("gate_feeds"):
                    result["gate_feeds"] = gate_feeds(layout.history_day)
            target = work / "dbt_target"
            with step("full_build"):
                result["full_build"] = dbt_build(target, layout.history_day, full_refresh=True)
            measure_disk("full_build")
            if args.gate:
                with step("gate_marts"):
                    result["gate_marts"] = gate_marts(layout.history_day)
            if not args.no_night:
                run_night(result, layout, feeds, target, records, step)
                measure_disk("night")
                with step("latency"):
                    result["latency"] = latency.run(dsn, args.lookups, args.searches, args.seed,
                                                    marts="marts_candidate" if args.no_publish else "marts")
            result["candidate_rows"] = _counts(dsn, "marts_candidate")
            result["database_size_bytes"] = database_size(dsn)
            result["relation_bytes"] = relation_sizes(dsn)
    finally:
        if args.keep:
            print(f"kept generated deliveries in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["targets"] = targets(result)
    partial.unlink(missing_ok=True)
    return result


def feed_names() -> list[str]:
    """Every feed spec, in the generator's order: the register first (the others' parties are
    registered subjects)."""
    from credit_dw.generate import FEEDS

    return list(FEEDS)


def run_night(result: dict, layout: deliveries.Layout, feeds: list[str], target: Path, records: int,
              step) -> None:
    """The next night: ingest the delta, the nightly build, publish (schema swap, no gate)."""
    dsn = os.environ["WAREHOUSE_DSN"]
    with step("ingest_delta"):
        result["ingested_delta"] = loading.ingest_all(
            [(f, layout.delta_day) for f in feeds], dsn, layout.root, result["parameters"]["jobs"])
    result["delta"] = delta_summary(result["ingested_delta"], records)
    before = server_now(dsn)
    with step("incremental_build"):
        result["incremental_build"] = dbt_build(target, layout.delta_day, full_refresh=False)
    result["delta"]["fct_rows_rewritten"] = rows_built_since(dsn, before)
    if result["parameters"]["publish"]:
        with step("publish"):
            publish(dsn)
        result["marts_rows"] = mart_counts(dsn)
        result["marts_statistics"] = mart_statistics(dsn)


def gate_feeds(as_of: date) -> dict:
    """The build's first gate (GX): every pending batch's delivery, rejection and raw suites."""
    from credit_dw import db
    from credit_dw.quality.gate import validate_feeds
    from credit_dw.quality.night import pending_batches

    with db.connect() as conn:
        batches = pending_batches(conn)
    return _gate_summary(validate_feeds(f"bench-feeds-{uuid.uuid4().hex[:8]}", batches, as_of=as_of))


def gate_marts(as_of: date) -> dict:
    """The build's second gate (GX): every candidate mart's suite."""
    from credit_dw.quality.gate import validate_candidate_marts

    return _gate_summary(validate_candidate_marts(f"bench-marts-{uuid.uuid4().hex[:8]}", as_of=as_of))


def _gate_summary(gate) -> dict:
    return {"passed": gate.passed, "suites": len(gate.outcomes),
            "failed": [f"{o.suite} on {o.target}" for o in gate.outcomes if not o.success]}


def relation_sizes(dsn: str, top: int = 25) -> list[dict]:
    """The biggest relations (table + its indexes + TOAST): where the disk goes."""
    with psycopg.connect(dsn) as conn:
        return [{"relation": r[0], "bytes": r[1], "rows": r[2]} for r in conn.execute(
            "select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
            " order by 2 desc limit %s", (top,)).fetchall()]


def age_history(dsn: str, day: date, days: int = 2) -> None:
    """Make the history look loaded ``days`` nights ago, as it would be in production.

    The change set takes each batch once whatever its time, so the build no longer depends on
    this; kept so that batch times look like a real night's.
    """
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "update quality.batch_manifest set started_at = started_at - make_interval(days => %s),"
            " finished_at = finished_at - make_interval(days => %s) where delivery_date = %s",
            (days, days, day))


def dbt_build(target: Path, as_of: date, *, full_refresh: bool) -> dict:
    """One ``dbt build`` (the full refresh, or the nightly command) into a private target path;
    never raises.

    A failing node is recorded, not fatal: the timing of a build that fails a test is still the
    time the night took. The slowest nodes come from ``run_results.json`` (profile evidence).
    """
    from credit_dw.dbt import DbtRunError, run_dbt

    args = ["build", "--target-path", str(target), "--log-path", str(target / "logs")]
    args += ["--full-refresh"] if full_refresh else ["--selector", "nightly"]
    outcome: dict = {"as_of": as_of.isoformat(), "full_refresh": full_refresh, "success": True}
    try:
        run_dbt(args, as_of=as_of)
    except DbtRunError as exc:
        outcome.update(success=False, error=str(exc))
        print(f"  dbt failed: {exc}", file=sys.stderr, flush=True)
    outcome.update(node_timings(target / "run_results.json"))
    return outcome


def node_timings(run_results: Path, top: int = 15) -> dict:
    if not run_results.exists():
        return {}
    data = json.loads(run_results.read_text())
    nodes = [(r["unique_id"], round(r.get("execution_time") or 0.0, 2), r["status"]) for r in data["results"]]
    by_kind: dict[str, float] = {}
    for unique_id, seconds, _status in nodes:
        kind = unique_id.split(".")[0]
        by_kind[kind] = round(by_kind.get(kind, 0.0) + seconds, 2)
    slowest = sorted(nodes, key=lambda n: -n[1])[:top]
    return {
        "dbt_elapsed_s": round(data.get("elapsed_time") or 0.0, 2),
        "nodes": len(nodes),
        "node_seconds_by_kind": by_kind,
        "slowest_nodes": [{"node": n, "seconds": s, "status": st} for n, s, st in slowest],
        "not_ok": [{"node": n, "status": st} for n, _s, st in nodes if st not in ("success", "pass")],
    }


_SNAPSHOT_NOTE = re.compile(r"(\d+) (new|changed|unchanged|removed)")


def delta_summary(ingested: list[dict], records: int) -> dict:
    """Rows the night changed: delivered rows of the delta feeds plus the court list's changes."""
    per_feed: dict[str, int] = {}
    court: dict[str, int] = {}
    for r in ingested:
        if r["feed"] == "judicial":
            for note in r["notes"]:
                court.update({kind: int(n) for n, kind in _SNAPSHOT_NOTE.findall(note)})
            per_feed["judicial"] = court.get("new", 0) + court.get("changed", 0) + court.get("removed", 0)
        else:
            per_feed[r["feed"]] = r["rows_loaded"]
    changed = sum(per_feed.values())
    return {"changed_rows_by_feed": per_feed, "judicial_snapshot": court, "changed_rows": changed,
            "share_of_records": round(changed / records, 5)}


def server_now(dsn: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute("select now()").fetchone()[0]


def rows_built_since(dsn: str, since) -> dict:
    with psycopg.connect(dsn) as conn:
        total, rebuilt = conn.execute(
            "select count(*), count(*) filter (where built_at >= %s) from marts_candidate.fct_credit_record",
            (since,)).fetchone()
    return {"fct_rows": total, "rebuilt": rebuilt}


def publish(dsn: str) -> None:
    from credit_dw.quality.publish import publish as swap

    swap(f"bench-{uuid.uuid4().hex[:8]}", dsn, require_gate=False)


def _counts(dsn: str, schema: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s"
            " and table_type = 'BASE TABLE' order by table_name", (schema,)).fetchall()]
        return {t: conn.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0] for t in tables}


def raw_counts(dsn: str) -> dict[str, int]:
    return _counts(dsn, "raw")


def mart_counts(dsn: str) -> dict:
    counts = _counts(dsn, "marts")
    with psycopg.connect(dsn) as conn:
        by_feed = dict(conn.execute(
            "select feed, count(*) from marts.fct_credit_record group by feed order by feed").fetchall())
    return {**counts, "fct_credit_record_by_feed": by_feed}


def mart_statistics(dsn: str) -> dict:
    """Whether the published tables had been analysed when latency was measured."""
    with psycopg.connect(dsn) as conn:
        return {r[0]: {"last_analyze": r[1], "last_autoanalyze": r[2]} for r in conn.execute(
            "select relname, last_analyze, last_autoanalyze from pg_stat_user_tables"
            " where schemaname = 'marts' order by relname").fetchall()}


def database_size(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select pg_database_size(current_database())").fetchone()[0]


def targets(result: dict) -> dict:
    """The issue's targets for this size: incremental share of full, lookup latency, province time."""
    seconds = result["seconds"]
    records = result["records_target"]
    ratio = (seconds["incremental_build"] / seconds["full_build"]
             if seconds.get("full_build") and "incremental_build" in seconds else None)
    ratio_target = TARGET_INCREMENTAL_RATIO if records >= 10_000_000 else TARGET_INCREMENTAL_RATIO_1M
    profile = result.get("latency", {}).get("profile_by_uscc", {}).get("median_ms")
    end_to_end = sum(seconds.get(k, 0.0) for k in ("ingest_history", "gate_feeds", "full_build", "gate_marts"))
    return {
        "incremental_over_full": round(ratio, 4) if ratio is not None else None,
        "incremental_target": ratio_target,
        "incremental_target_met": ratio is not None and ratio <= ratio_target,
        "profile_median_ms": profile,
        "profile_target_met": profile is not None and profile <= TARGET_PROFILE_MEDIAN_MS,
        "ingest_build_gate_s": round(end_to_end, 1),
        "province_target_met": end_to_end <= TARGET_PROVINCE_SECONDS if result["parameters"]["gate"] else None,
    }


def summary_table(results: list[dict]) -> str:
    rows = []
    for r in results:
        lat = r.get("latency", {})
        fct = r.get("marts_rows", {}).get("fct_credit_record", "?")
        t = r["seconds"]
        rows.append([
            harness.human(r["records_target"]), fct,
            f"{t.get('ingest_history', 0):.0f} s", f"{t.get('full_build', 0):.0f} s",
            f"{r.get('delta', {}).get('changed_rows', '?')}", f"{t.get('incremental_build', 0):.0f} s",
            f"{r['targets']['incremental_over_full']:.1%}" if r["targets"]["incremental_over_full"] else "?",
            *(f"{lat.get(p, {}).get('median_ms', '?')} / {lat.get(p, {}).get('p99_ms', '?')}"
              for p in ("profile_by_uscc", "dim_by_uscc", "records_by_uscc", "name_search_dim",
                        "name_search_disclosure")),
        ])
    return harness.markdown_table(
        ["records", "fct rows", "ingest", "full build", "delta rows", "incremental", "incr/full",
         "profile ms (med/p99)", "dim ms", "records ms", "name search dim ms", "name search disclosure ms"],
        rows)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, action="append", required=True,
                   help="credit records (penalty + judicial + tax + social insurance rows); repeatable")
    p.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--jobs", type=int, default=2, help="processes for generation and ingestion (default 2)")
    p.add_argument("--seed", type=int, default=deliveries.DEFAULT_SEED)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20),
                   help="delivery date of the history; the delta is delivered the day after")
    p.add_argument("--defect-rate", type=float, default=0.03)
    p.add_argument("--delta-share", type=float, default=0.01, help="changed rows of the night, share of N")
    p.add_argument("--lookups", type=int, default=1000)
    p.add_argument("--searches", type=int, default=200)
    p.add_argument("--work-dir", type=Path, default=None, help="where deliveries are generated (temp dir)")
    p.add_argument("--deliveries", type=Path, default=None,
                   help="keep the generated deliveries in DELIVERIES/<N>/ and reuse those a run with the same "
                        "parameters wrote there (generation is deterministic; at 10M it takes ~25 min)")
    p.add_argument("--register", type=int, default=None,
                   help="subjects in the register (default 20 %% of --records; the province: 20000000)")
    p.add_argument("--gate", action="store_true", help="run and time the GX gates (feeds before, marts after "
                                                       "the full build)")
    p.add_argument("--no-night", action="store_true",
                   help="stop after the full build (and gate): no delta, nightly build or latency")
    p.add_argument("--no-publish", action="store_true",
                   help="after the night, measure latency on the candidate marts instead of publishing")
    p.add_argument("--keep", action="store_true", help="keep the database and the generated files")
    p.add_argument("--tag", help="suffix of the result file name (build_<N>_<tag>.json), e.g. for a what-if run")
    p.add_argument("--workaround", action="append", choices=workarounds.AVAILABLE,
                   help="stand in for a known performance bug (see benchmarks/workarounds.py)")
    return p


if __name__ == "__main__":
    sys.exit(main())
