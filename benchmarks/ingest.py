"""Ingestion throughput and memory: rows/s and peak RSS of ``ingest_delivery`` against input size.

For each feed and size N: generate one delivery of N rows (``credit_dw.generate.generate``),
create a fresh warehouse database, and ingest the delivery in a child process of its own, so
the child's peak resident set (``getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that one
ingest and nothing else. The child also reports its resident set after importing everything
(baseline): peak minus baseline is what the data cost. Flat peaks across sizes show the
loader streams (constant memory in input size).

Feeds: ``penalty`` (CSV, ten department files, mixed encodings) and ``judicial`` (JSON Lines
daily full snapshot; day 1 is the first snapshot, day 2 merges into the intervals of day 1).

    nice -n 10 .venv/bin/python benchmarks/ingest.py --rows 100000 --rows 1000000 --out benchmarks/results/
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import harness
import workarounds

START = date(2026, 11, 20)
SEED = 20261120
SNAPSHOT_DAYS = {"penalty": 1, "judicial": 2}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    harness.prepare_environment()
    applied = workarounds.apply(args.workaround or [])
    if args.command == "child":
        print(json.dumps(child(args.feed[0], date.fromisoformat(args.day), args.dsn, Path(args.root))))
        return 0
    sizes = args.rows or [100_000, 1_000_000]
    feeds = args.feed or ["penalty", "judicial"]
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_", dir=args.work_dir))
    result: dict = {"benchmark": "ingest", "machine": harness.machine(), "postgres": harness.server(server_dsn()),
                    "workarounds": applied, "runs": [], "seconds": {}}
    path = args.out / args.name
    try:
        with harness.timed(result["seconds"], "generate"):
            trees = generate_all(work, feeds, sizes, args.jobs)
        for feed in feeds:
            for rows in sizes:
                print(f"== {feed} {harness.human(rows)}", file=sys.stderr, flush=True)
                result["runs"].extend(measure(feed, rows, trees[(feed, rows)], args.keep, applied))
                harness.write_json(path, result)  # a crash later keeps what was measured
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"results: {path}", file=sys.stderr)
    print(summary_table(result["runs"]))
    return 0


def server_dsn() -> str:
    from psycopg.conninfo import make_conninfo

    from credit_dw import db

    return make_conninfo(db.ensure_server(), dbname="postgres")


def generate_all(work: Path, feeds: list[str], sizes: list[int], jobs: int) -> dict[tuple[str, int], Path]:
    tasks = {(f, n): work / f"{f}_{n}" for f in feeds for n in sizes}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_generate, f, n, root) for (f, n), root in sorted(tasks.items(), key=lambda t: -t[0][1])]
        for future in futures:
            future.result()
    return tasks


def _generate(feed: str, rows: int, root: Path) -> None:
    from credit_dw.generate import generate

    generate(root, START, SNAPSHOT_DAYS[feed], rows, SEED, feeds=[feed])


def measure(feed: str, rows: int, root: Path, keep: bool, applied: list[str]) -> list[dict]:
    """Ingest each generated day in order, each in a fresh child process, on one fresh database."""
    runs = []
    with harness.fresh_database(prefix="credit_dw_bench_ingest", keep=keep) as dsn:
        for offset in range(SNAPSHOT_DAYS[feed]):
            day = START + timedelta(days=offset)
            done = subprocess.run(
                [sys.executable, __file__, "child", "--feed", feed, "--day", day.isoformat(), "--dsn", dsn,
                 "--root", str(root), *(f"--workaround={w}" for w in applied)],
                capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"ingest child for {feed} {day} failed:\n{done.stderr[-4000:]}")
            run = {"feed": feed, "generated_rows": rows, "day": offset + 1, **json.loads(done.stdout)}
            print(f"  day {offset + 1}: {run['rows_read']} rows in {run['seconds']:.1f} s = "
                  f"{run['rows_per_s']} rows/s, peak RSS {run['peak_rss_mib']} MiB "
                  f"(baseline {run['baseline_rss_mib']} MiB)", file=sys.stderr, flush=True)
            runs.append(run)
    return runs


def child(feed: str, day: date, dsn: str, root: Path) -> dict:
    """In a fresh process: import, note the baseline resident set, ingest, note the peak."""
    import psycopg  # noqa: F401  (imported before the baseline, like everything the ingest uses)

    from credit_dw.feeds import load_spec
    from credit_dw.ingest import ingest_delivery

    load_spec(feed)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = ingest_delivery(feed, day, dsn=dsn, landing_root=root)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    totals = result.totals()
    size = sum(f.stat().st_size for f in (root / feed / day.isoformat()).iterdir())
    return {
        **totals,
        "files": len(result.files),
        "input_mib": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "rows_per_s": round(totals["rows_read"] / seconds),
        "mib_per_s": round(size / 2**20 / seconds, 2),
        "baseline_rss_mib": round(baseline / 1024, 1),  # ru_maxrss is KiB on Linux
        "peak_rss_mib": round(peak / 1024, 1),
        "notes": [f.message for f in result.files if f.message],
    }


def summary_table(runs: list[dict]) -> str:
    return harness.markdown_table(
        ["feed", "day", "rows read", "input MiB", "seconds", "rows/s", "peak RSS MiB", "baseline RSS MiB"],
        [[r["feed"], "snapshot merge" if r["day"] > 1 else "first load", r["rows_read"], r["input_mib"],
          r["seconds"], r["rows_per_s"], r["peak_rss_mib"], r["baseline_rss_mib"]] for r in runs])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", nargs="?", default="run", choices=["run", "child"], help=argparse.SUPPRESS)
    p.add_argument("--rows", type=int, action="append", help="rows per delivery (repeatable; default 100k and 1M)")
    p.add_argument("--feed", action="append", choices=sorted(SNAPSHOT_DAYS), help="default: penalty and judicial")
    p.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--jobs", type=int, default=2, help="processes generating the inputs")
    p.add_argument("--work-dir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--name", default="ingest.json", help="result file name under --out")
    p.add_argument("--workaround", action="append", choices=workarounds.AVAILABLE,
                   help="stand in for a known performance bug (see benchmarks/workarounds.py)")
    p.add_argument("--day", help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
