"""``credit-dw demo`` (``make demo``): the whole nightly pipeline on the bundled samples.

Starts the warehouse, stages ``samples/landing`` into ``LANDING_ROOT``, then runs the real DAGs
with ``dag.test`` (what ``airflow dags test`` runs) per delivery date in order (every ingest DAG,
then ``build_warehouse``), all in one Airflow process so start-up is paid once
(``credit_dw.orchestration.dag_runs``), and prints what arrived, what loaded, what was rejected, the marts and the
gate verdict. Safe to rerun: files already loaded are skipped by their sha256.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from credit_dw.config import PROJECT_ROOT, ensure_local_pii_key, landing_root, reports_dir, var_dir

SAMPLES = PROJECT_ROOT / "samples" / "landing"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the nightly pipeline on the bundled sample deliveries")
    p.add_argument("--samples", type=Path, default=SAMPLES, help="landing tree to stage")
    p.set_defaults(handler=_demo)

    s = sub.add_parser("stage-samples", help="stage the sample deliveries as the nights before yesterday, "
                                             "for the real scheduler (`make airflow`)")
    s.add_argument("--samples", type=Path, default=SAMPLES, help="landing tree to stage")
    s.set_defaults(handler=_stage_recent)


def stage_samples(samples: Path, root: Path) -> list[date]:
    """Copy the sample tree into the landing root (idempotent); returns the delivery dates."""
    days: set[date] = set()
    for done in sorted(samples.glob("*/*/_DONE")):
        day_dir = done.parent
        target = root / day_dir.parent.name / day_dir.name
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(day_dir.iterdir()):
            if f.name != "_DONE" and not (target / f.name).exists():
                shutil.copy2(f, target / f.name)
        (target / "_DONE").touch()  # written last, as departments do
        days.add(date.fromisoformat(day_dir.name))
    return sorted(days)


def stage_samples_as_recent(samples: Path, root: Path, last: date) -> list[date]:
    """Stage the sample nights, in order, as the nights ending with ``last``; returns those dates.

    The bundled samples are fixed past nights; a scheduler started today with a start date just
    before the re-dated nights ingests and builds them by itself, as it would real deliveries.
    """
    sample_days = sorted({d.parent.name for d in samples.glob("*/*/_DONE")})
    nights = [last - timedelta(days=len(sample_days) - 1 - i) for i in range(len(sample_days))]
    for sample_day, night in zip(sample_days, nights, strict=True):
        for done in sorted(samples.glob(f"*/{sample_day}/_DONE")):
            target = root / done.parent.parent.name / night.isoformat()
            target.mkdir(parents=True, exist_ok=True)
            for f in sorted(done.parent.iterdir()):
                if f.name != "_DONE" and not (target / f.name).exists():
                    shutil.copy2(f, target / f.name)
            (target / "_DONE").touch()  # written last, as departments do
    return nights


def _stage_recent(args: argparse.Namespace) -> int:
    from credit_dw.config import today

    nights = stage_samples_as_recent(args.samples, landing_root(), today() - timedelta(days=2))
    print(f"staged {len(nights)} sample nights as {', '.join(d.isoformat() for d in nights)} in {landing_root()}")
    print(f"start the scheduler from the first of them: CREDIT_DW_START_DATE={nights[0]} make airflow")
    return 0


def run_dags(plan: list[dict], env: dict[str, str], logs: Path) -> Iterator[dict]:
    """Run the plan's DAG runs in order with ``dag.test`` in one Airflow process
    (``credit_dw.orchestration.dag_runs``); yields each run's result as it finishes."""
    import sys

    plan_file = logs / "plan.json"
    plan_file.write_text(json.dumps(plan, indent=1))
    with subprocess.Popen([sys.executable, "-m", "credit_dw.orchestration.dag_runs", str(plan_file)],
                          env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            yield json.loads(line)


def nightly_plan(days: list[date], logs: Path) -> list[dict]:
    """Every night in order: the ingest DAGs (the register first: it is the master list the
    other feeds' subjects resolve against), then ``build_warehouse`` for that night."""
    from credit_dw.feeds import all_specs

    feeds = sorted((s.feed for s in all_specs()), key=lambda feed: (feed != "registration", feed))
    plan = []
    for day in days:
        for dag_id in [f"ingest_{feed}" for feed in feeds] + ["build_warehouse"]:
            # A build is for the night it runs in; the demo replays past nights, so it says which.
            conf = {"as_of": day.isoformat()} if dag_id == "build_warehouse" else None
            plan.append({"dag_id": dag_id, "logical_date": day.isoformat(), "conf": conf,
                         "log": str(logs / f"{dag_id}_{day.isoformat()}.log")})
    return plan


def _demo(args: argparse.Namespace) -> int:
    from credit_dw import db, summary
    from credit_dw.commands.airflow import prepare_airflow

    ensure_local_pii_key()
    db.init_warehouse()
    days = stage_samples(args.samples, landing_root())
    print(f"staged {len(days)} delivery dates from {args.samples} into {landing_root()}")
    # The samples are past nights: the ingest DAGs must schedule from the first of them.
    os.environ.setdefault("CREDIT_DW_START_DATE", days[0].isoformat())
    env = prepare_airflow()
    logs = var_dir() / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    plan = nightly_plan(days, logs)
    failures = []
    reported = 0
    for run in run_dags(plan, env, logs):
        reported += 1
        print(f"  {run['logical_date']}  {run['dag_id']:<26} {'ok' if run['ok'] else 'FAILED':<7} "
              f"{run['seconds']:6.1f} s  ({run['log']})", flush=True)
        if not run["ok"]:
            failures.append(f"{run['dag_id']} {run['logical_date']}: see {run['log']}")
    if reported < len(plan):
        failures.append(f"the DAG runner stopped after {reported} of {len(plan)} runs: see {logs}")
    print()
    print(summary.render(days))
    print(f"quality report: {reports_dir() / 'latest' / 'index.html'}")
    print(f"dbt docs:       {reports_dir() / 'dbt-docs' / 'index.html'}")
    if failures:
        print("\nFAILED runs:\n  " + "\n  ".join(failures))
        return 1
    return 0
