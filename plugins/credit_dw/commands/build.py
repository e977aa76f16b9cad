"""``credit-dw build`` and ``credit-dw dbt ...``: the warehouse build from the shell."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from credit_dw.orchestration.defaults import TIMEZONE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="validate feeds, dbt build, gate and publish the marts, report")
    p.add_argument("--date", type=date.fromisoformat, default=None,
                   help="as-of date of publicity windows and feed batches (default: today, Asia/Shanghai)")
    p.set_defaults(handler=_build)

    d = sub.add_parser("dbt", help="run a dbt command on the project with the warehouse profile")
    d.add_argument("dbt_args", nargs=argparse.REMAINDER)
    d.set_defaults(handler=_dbt)


def _build(args: argparse.Namespace) -> int:
    import pendulum

    from credit_dw import pipeline

    as_of = args.date or pendulum.now(TIMEZONE).date()
    run_id = f"cli__{datetime.now().strftime('%Y%m%dT%H%M%S')}"
    report = pipeline.build(as_of, run_id)
    print(f"published marts as of {as_of} (run {run_id}); report: {report}")
    return 0


def _dbt(args: argparse.Namespace) -> int:
    from credit_dw.dbt import run_dbt

    run_dbt(args.dbt_args)
    return 0
