"""``credit-dw report [--date D] [--out DIR] [--run-id R]``: render the nightly HTML report and print its path."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="render the nightly steward report (static HTML)")
    parser.add_argument("--date", type=date.fromisoformat, default=None,
                        help="night to report, YYYY-MM-DD (default: today, Asia/Shanghai)")
    parser.add_argument("--out", type=Path, default=None,
                        help="reports folder (default: CREDIT_DW_REPORTS or var/reports)")
    parser.add_argument("--run-id", default=None, help="show this run's gate verdict (default: the day's last)")
    parser.set_defaults(handler=_report)
    from credit_dw.report import subject_cli  # `credit-dw report subject SUBJECT` (issue 12)

    subject_cli.register(parser.add_subparsers(dest="kind", metavar="subject"))


def _report(args: argparse.Namespace) -> int:
    from credit_dw.report import render_report  # keeps `credit-dw --help` fast

    print(render_report(out_dir=args.out, as_of=args.date, run_id=args.run_id))
    return 0
