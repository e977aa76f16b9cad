"""``credit-dw build`` and ``credit-dw dbt ...``: the warehouse build from the shell."""

from __future__ import annotations

import argparse
from datetime import date, datetime


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="validate feeds, dbt build, gate and publish the marts, report")
    p.add_argument("--date", type=date.fromisoformat, default=None,
                   help="as-of date of publicity windows and statuses (default: today, Asia/Shanghai);"
                        " the build gates every pending batch whatever the date")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild every table from all data and run every test: after a change of a seed "
                        "(reference data, the catalogue) or to re-evaluate everything")
    p.set_defaults(handler=_build)

    d = sub.add_parser("dbt", help="run a dbt command on the project with the warehouse profile")
    d.add_argument("dbt_args", nargs=argparse.REMAINDER)
    d.set_defaults(handler=_dbt)


def _build(args: argparse.Namespace) -> int:
    from credit_dw import pipeline
    from credit_dw.config import today

    plan = pipeline.BuildPlan(run_id=f"cli__{datetime.now().strftime('%Y%m%dT%H%M%S')}",
                              as_of=args.date or today(), run_type="cli")
    report = pipeline.build(plan, full_refresh=args.full_refresh)
    print(f"published marts as of {plan.as_of} (run {plan.run_id}); report: {report}")
    return 0


def _dbt(args: argparse.Namespace) -> int:
    from credit_dw.dbt import run_dbt

    run_dbt(args.dbt_args)
    return 0
