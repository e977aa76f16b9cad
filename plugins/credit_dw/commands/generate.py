"""``credit-dw generate``: write deterministic sample deliveries for every feed."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser(
        "generate",
        help="write seeded sample deliveries (<out>/<feed>/<YYYY-MM-DD>/ + _DONE) for all feeds",
        description="Same arguments, byte-identical files. Defect counts go to <out>/_generation.json.",
    )
    gen.add_argument("--out", type=Path, required=True, help="landing root to write into")
    gen.add_argument("--start", type=date.fromisoformat, required=True, help="first delivery date, YYYY-MM-DD")
    gen.add_argument("--days", type=int, default=1, help="number of daily deliveries (default 1)")
    gen.add_argument("--rows", type=int, default=1000, help="records per feed per day, roughly (default 1000)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--defect-rate", type=float, default=0.03, help="share of defective rows (default 0.03)")
    gen.add_argument("--feed", action="append", dest="feeds", metavar="FEED",
                     help="only this feed (repeatable; default all)")
    gen.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    from credit_dw.generate import generate

    try:
        summary = generate(args.out, args.start, args.days, args.rows, args.seed, args.defect_rate, args.feeds)
    except (FileExistsError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    defects = summary.defects()
    print(
        f"wrote {len(summary.files)} files, {summary.row_count()} rows "
        f"({sum(defects.values())} defective) under {args.out}; counts in {args.out / '_generation.json'}"
    )
    return 0
