"""The fixed cost of a night: dbt on the bundled sample nights, nightly selector against full.

The samples are 200 rows per feed and day, so what a night costs here is almost all per-node
overhead, not data. Per night, on a fresh database: ingest the night's deliveries, then
``dbt build --selector nightly`` (what a night runs: the change set and the night's tests); the
first night is a ``--full-refresh`` with every test (what CI and a seed change run). Records the
dbt elapsed time, the nodes by kind and their summed time (``run_results.json``).

    nice -n 10 .venv/bin/python benchmarks/nightly.py --out benchmarks/results/
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import harness

SAMPLES = harness.PROJECT_ROOT / "samples" / "landing"
NIGHTS = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="nightly_samples.json", help="result file name under --out")
    args = parser.parse_args(argv)
    harness.prepare_environment()
    from build import feed_names

    from credit_dw.ingest.delivery import delivery_ready, ingest_delivery

    nights = []
    with harness.fresh_database("credit_dw_bench_nightly") as dsn, tempfile.TemporaryDirectory() as work:
        for number, day in enumerate(NIGHTS):
            for feed in feed_names():
                if delivery_ready(feed, day, SAMPLES):
                    ingest_delivery(feed, day, dsn=dsn, landing_root=SAMPLES)
            full = number == 0
            nights.append({"as_of": day.isoformat(), "full_refresh": full,
                           **dbt_build(dsn, Path(work) / "target", day, full_refresh=full)})
            print(f"  {day} {'full refresh' if full else 'nightly':<12} {nights[-1]['invocation_s']:6.1f} s"
                  f" (dbt {nights[-1]['dbt_elapsed_s']:.1f} s after parsing)  {nights[-1]['nodes']}",
                  file=sys.stderr, flush=True)
    result = {"benchmark": "nightly", "machine": harness.machine(), "nights": nights}
    path = harness.write_json(args.out / args.name, result)
    print(f"results: {path}", file=sys.stderr)
    return 0


def dbt_build(dsn: str, target: Path, as_of: date, *, full_refresh: bool) -> dict:
    from credit_dw.dbt import run_dbt

    scope = ["--full-refresh"] if full_refresh else ["--selector", "nightly"]
    started = time.perf_counter()
    run_dbt(["build", *scope, "--target-path", str(target), "--log-path", str(target / "logs")], dsn=dsn,
            as_of=as_of)
    invocation = time.perf_counter() - started
    data = json.loads((target / "run_results.json").read_text())
    nodes: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for result in data["results"]:
        kind = result["unique_id"].split(".")[0]
        nodes[kind] = nodes.get(kind, 0) + 1
        seconds[kind] = round(seconds.get(kind, 0.0) + (result.get("execution_time") or 0.0), 2)
    return {"invocation_s": round(invocation, 2), "dbt_elapsed_s": round(data.get("elapsed_time") or 0.0, 2),
            "nodes": nodes,
            "node_seconds_by_kind": seconds}


if __name__ == "__main__":
    sys.exit(main())
