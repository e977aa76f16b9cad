"""Generated deliveries sized for a warehouse of N credit records, plus a ~1 % nightly delta.

Why not just ``credit_dw.generate.generate(rows=...)``: one ``rows`` gives every feed the same
volume and draws the parties from a register of that same size. A warehouse of N records looks
different: penalties are the bulk, the register holds fewer subjects than there are records,
and the court's snapshot is a fixed fraction. So this module composes the generator's own
pieces (``FEEDS`` writers, ``Plan``, ``Universe``), which keep every record a pure function of
``(seed, index)``: all feeds share ONE subject universe (the register delivered on day 0), so
penalties, tax, arrears and court entries name registered subjects, and each feed gets its own
volume.

The night after (the delta, delivered the next day):
- judicial: the court's real next snapshot (same plan, day 1): the generator's churn of about
  3 % new, 3 % removed and 0.75 % changed entries of the list;
- the other feeds: fresh records (their own seed, so decision numbers rarely repeat the
  history's; a repeat is a correction) for the registered subjects (about 5 % name the
  universe's next-day subjects, which the register does not deliver: unresolved, as real
  deliveries have some); the register gets new subjects and changes of existing ones. They
  are sized so that all changed rows together are about ``delta_share`` of N.

Generation runs in ``jobs`` processes, one (feed, day) per task, biggest first.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

# Shares of N (non-registration credit records) per feed, and the register relative to N.
# DOMAIN.md §5: a large province has tens of millions of records, a court list of about a
# million entries and 15-20 million subjects; at N = 10M this gives 1M court entries and a
# 2M-subject register (a slice of a province, keeping the records-per-subject ratio sane).
# Every feed but the register needs a share here (``check_mix``): a feed added by spec alone is
# named by the benchmark, not left out of it silently.
MIX = {"penalty": 0.55, "judicial": 0.10, "tax": 0.10, "social_insurance": 0.12, "commitment": 0.03}
TAX_FILES = 2  # major violators and credit ratings, ``tax`` rows each
SI_ROWS_PER_DOCUMENT = 1.25  # a quarter of the arrears documents cover two insurance types
REGISTER_SHARE = 0.20
# The generator's daily churn of the court list (judicial.Listing): 3 % join, about 3 % leave,
# about 0.75 % change performance. Used only to size the other feeds' delta.
JUDICIAL_DAILY_CHURN = 0.0675
# Day-1 fractions of a plan's ``rows`` the generator writes (registration: 5 % new subjects plus
# 3 % changes; tax and social insurance: 5 % new records).
REGISTRATION_DAY1 = 0.08
NEW_PER_DAY = 0.05
DEFAULT_SEED = 20261120
DELTA_SEED_OFFSET = 1


@dataclass(frozen=True)
class Volumes:
    """Rows written per feed (before defects) for one delivery day."""

    registration: int
    penalty: int
    judicial: int
    tax: int  # per tax file
    social_insurance: int  # documents
    commitment: int

    @property
    def credit_rows(self) -> int:
        """Non-registration rows, the way N is counted (penalty + court + tax + arrears + commitments)."""
        return round(self.penalty + self.judicial + TAX_FILES * self.tax
                     + SI_ROWS_PER_DOCUMENT * self.social_insurance + self.commitment)


def check_mix(feeds: list[str]) -> None:
    """Every feed spec but the register's has a share of N in ``MIX`` (and no share lacks a spec)."""
    missing = sorted(set(feeds) - {"registration"} - set(MIX))
    unknown = sorted(set(MIX) - set(feeds))
    if missing or unknown:
        raise SystemExit(f"benchmarks/deliveries.py MIX: no share for feed(s) {missing}, share for unknown "
                         f"feed(s) {unknown}; give every feed spec but registration a share of the records "
                         "and a task in history_tasks/delta_tasks")


def history_volumes(records: int, register: int | None = None) -> Volumes:
    """Day-0 volumes for about ``records`` non-registration credit records.

    ``register``: subjects in the register (default ``REGISTER_SHARE`` of ``records``); a
    province has more registered subjects than credit records (DOMAIN.md §5: 20M and 10M).
    """
    tax = records * (1.0 - MIX["penalty"] - MIX["judicial"] - SI_ROWS_PER_DOCUMENT * MIX["social_insurance"]
                     - MIX["commitment"])
    return Volumes(
        registration=max(1, register if register is not None else round(records * REGISTER_SHARE)),
        penalty=max(1, round(records * MIX["penalty"])),
        judicial=max(1, round(records * MIX["judicial"])),
        tax=max(1, round(tax / TAX_FILES)),
        social_insurance=max(1, round(records * MIX["social_insurance"])),
        commitment=max(1, round(records * MIX["commitment"])),
    )


def delta_fraction(history: Volumes, records: int, delta_share: float) -> float:
    """Fraction of each non-judicial feed's history the delta delivers, so that all changed rows
    (court churn included) are about ``delta_share`` of ``records``."""
    budget = delta_share * records - JUDICIAL_DAILY_CHURN * history.judicial
    others = (history.registration + history.penalty + TAX_FILES * history.tax
              + SI_ROWS_PER_DOCUMENT * history.social_insurance + history.commitment)
    return max(budget, 0.0) / others


@dataclass(frozen=True)
class Task:
    """Write one feed's delivery of one day: ``FEEDS[feed](plan, day, folder)``."""

    feed: str
    day: int
    plan_rows: int
    plan_days: int
    seed: int
    universe_rows: int
    weight: float  # expected cost, for scheduling biggest first


@dataclass(frozen=True)
class Layout:
    """Where and how: landing root, first delivery date, seed and defect rate."""

    root: Path
    start: date
    seed: int = DEFAULT_SEED
    defect_rate: float = 0.03

    @property
    def history_day(self) -> date:
        return self.start

    @property
    def delta_day(self) -> date:
        return self.start + timedelta(days=1)


def history_tasks(layout: Layout, v: Volumes) -> list[Task]:
    """Day 0 of every feed; all parties come from the day-0 register of ``v.registration`` subjects.

    Penalty, tax and social insurance plans have one day (no corrections of records that were
    never delivered); registration and judicial have two, so day 1 continues them exactly.
    """
    s, u = layout.seed, v.registration
    return [
        Task("registration", 0, u, 2, s, u, u),
        Task("penalty", 0, v.penalty, 1, s, u, v.penalty),
        Task("judicial", 0, v.judicial, 2, s, u, v.judicial),
        Task("tax", 0, v.tax, 1, s, u, TAX_FILES * v.tax),
        Task("social_insurance", 0, v.social_insurance, 1, s, u, 2.5 * v.social_insurance),  # XLSX
        Task("commitment", 0, v.commitment, 1, s, u, v.commitment),
    ]


def delta_tasks(layout: Layout, v: Volumes, fraction: float) -> list[Task]:
    """Day 1: the court's next snapshot and fresh records worth ``fraction`` of each other feed.

    Registration's day 1 comes from a smaller universe with the same seed: its first subjects
    are the very subjects of the day-0 register (a subject is a function of seed and index), so
    its changes hit registered subjects, and its new subjects get fresh codes.
    """
    s, d, u = layout.seed, layout.seed + DELTA_SEED_OFFSET, v.registration
    register_rows = max(1, round(fraction * v.registration / REGISTRATION_DAY1))
    penalty = max(1, round(fraction * v.penalty))
    tax = max(1, round(fraction * v.tax / NEW_PER_DAY))
    arrears = max(1, round(fraction * v.social_insurance / NEW_PER_DAY))
    commitments = max(1, round(fraction * v.commitment / NEW_PER_DAY))
    return [
        Task("registration", 1, register_rows, 2, s, register_rows, register_rows * REGISTRATION_DAY1),
        Task("penalty", 1, penalty, 1, d, u, penalty),
        Task("judicial", 1, v.judicial, 2, s, u, v.judicial),
        Task("tax", 1, tax, 1, d, u, TAX_FILES * tax * NEW_PER_DAY),
        Task("social_insurance", 1, arrears, 1, d, u, 2.5 * arrears * NEW_PER_DAY),
        Task("commitment", 1, commitments, 1, d, u, commitments * NEW_PER_DAY),
    ]


def _write(layout: Layout, task: Task) -> dict:
    """Runs in a worker process: one folder, closed by ``_DONE``; returns what it wrote."""
    from credit_dw.generate import DONE_MARKER, FEEDS
    from credit_dw.generate.plan import Plan
    from credit_dw.generate.subjects import Universe

    started = time.perf_counter()
    universe = Universe(layout.seed, task.universe_rows, 2, layout.start)
    plan = Plan(layout.root, layout.start, task.plan_days, task.plan_rows, task.seed, layout.defect_rate,
                universe)
    folder = layout.root / task.feed / plan.delivery(task.day).isoformat()
    if (folder / DONE_MARKER).exists():  # written by an earlier run with the same parameters (reuse)
        return {"feed": task.feed, "day": plan.delivery(task.day).isoformat(), "reused": True,
                "rows": None, "defects": None, "files": sum(1 for p in folder.iterdir() if p.name != DONE_MARKER),
                "seconds": 0.0}
    folder.mkdir(parents=True)
    tallies = FEEDS[task.feed](plan, task.day, folder)
    (folder / DONE_MARKER).touch()
    return {
        "feed": task.feed,
        "day": plan.delivery(task.day).isoformat(),
        "rows": sum(t.rows for t in tallies.values()),
        "defects": sum(sum(t.defects.values()) for t in tallies.values()),
        "files": len(tallies),
        "seconds": round(time.perf_counter() - started, 3),
    }


def check_reuse(layout: Layout, parameters: dict) -> None:
    """Deliveries kept in ``layout.root`` (``build.py --deliveries``) are reused only for the
    parameters they were generated with (generation is deterministic in them)."""
    stamp = layout.root / "_parameters.json"
    if stamp.exists():
        before = json.loads(stamp.read_text())
        if before != parameters:
            raise SystemExit(f"{layout.root} holds deliveries generated with {before}, not {parameters}: "
                             "pass another --deliveries folder (or delete this one)")
    else:
        layout.root.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(parameters, sort_keys=True))


def write_all(layout: Layout, tasks: list[Task], jobs: int) -> list[dict]:
    """Run the tasks in ``jobs`` processes (biggest first); returns one summary per folder
    (folders already closed by ``_DONE`` are reused as they are)."""
    ordered = sorted(tasks, key=lambda t: -t.weight)
    if jobs <= 1:
        return [_write(layout, t) for t in ordered]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_write, layout, t) for t in ordered]
        done = []
        for f in futures:
            done.append(f.result())
            what = "reused" if done[-1].get("reused") else f"{done[-1]['rows']} rows in {done[-1]['seconds']:.0f} s"
            print(f"    generated {done[-1]['feed']} {done[-1]['day']}: {what}", file=sys.stderr, flush=True)
        return done


def describe(v: Volumes) -> dict:
    return {**asdict(v), "credit_rows": v.credit_rows}
