"""Deterministic sample deliveries for every feed, in the departments' exact formats.

``generate(out, start, days, rows, seed)`` writes ``out/<feed>/<YYYY-MM-DD>/`` folders (each
closed by an empty ``_DONE`` written last) and ``out/_generation.json`` with the per-file
defect counts. Same arguments, byte-identical files: every record is a pure function of the
seed and its index (see ``rng``), so the generator streams with constant memory and can
regenerate any earlier record when a later day corrects it. Each feed spec has its generator
module here, ``credit_dw.generate.<feed>`` with ``write_day(plan, day, folder)``: a new feed's
generator is found by its name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

from credit_dw.feeds import all_specs
from credit_dw.generate.plan import Plan
from credit_dw.generate.subjects import Universe
from credit_dw.generate.summary import SUMMARY_FILE, FileSummary, GenerationSummary


def _writers() -> dict[str, Callable]:
    """Feed -> ``write_day`` of its generator module, for every feed spec; registration first
    (the register the other feeds' parties come from is written first in each day's folder)."""
    feeds = sorted((s.feed for s in all_specs()), key=lambda feed: (feed != "registration", feed))
    return {feed: importlib.import_module(f"{__name__}.{feed}").write_day for feed in feeds}


FEEDS = _writers()
DONE_MARKER = "_DONE"

__all__ = ["DONE_MARKER", "FEEDS", "SUMMARY_FILE", "FileSummary", "GenerationSummary", "generate"]


def generate(
    out: Path,
    start: date,
    days: int,
    rows: int,
    seed: int,
    defect_rate: float = 0.03,
    feeds: list[str] | None = None,
) -> GenerationSummary:
    """Write ``days`` daily deliveries from ``start`` for each feed (all by default).

    Raises ``FileExistsError`` if a target day folder already exists: the generator never
    mixes its files with an earlier delivery, and never deletes anything.
    """
    if days < 1 or rows < 1:
        raise ValueError("days and rows must be at least 1")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect rate {defect_rate} is not a fraction between 0 and 1")
    selected = feeds or list(FEEDS)
    unknown = set(selected) - set(FEEDS)
    if unknown:
        raise ValueError(f"unknown feed(s) {sorted(unknown)}; known: {sorted(FEEDS)}")
    out = Path(out)
    plan = Plan(out, start, days, rows, seed, defect_rate, Universe(seed, rows, days, start))
    for feed in selected:
        for day in range(days):
            folder = out / feed / plan.delivery(day).isoformat()
            if folder.exists():
                raise FileExistsError(f"{folder} already exists: remove it or choose another --out")
    summary = GenerationSummary(start.isoformat(), days, rows, seed, defect_rate)
    for day in range(days):
        for feed in selected:
            folder = out / feed / plan.delivery(day).isoformat()
            folder.mkdir(parents=True)
            for name, tally in FEEDS[feed](plan, day, folder).items():
                summary.files.append(FileSummary(
                    feed=feed,
                    day=plan.delivery(day).isoformat(),
                    file=f"{feed}/{folder.name}/{name}",
                    rows=tally.rows,
                    defects=dict(sorted((str(k), v) for k, v in tally.defects.items())),
                    variants=dict(sorted((str(k), v) for k, v in tally.variants.items())),
                ))
            (folder / DONE_MARKER).touch()
    summary.write(out)
    return summary
