"""``credit-dw feedback DEPARTMENT --date D``: write a department's feedback file for one night.

The file lists exactly the department's rejected rows of that delivery date, in Chinese, for
spreadsheet programs (``credit_dw.feedback``). The nightly report writes every department's file
too; this command is for a department that asks again, or for another night.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="write a providing department's feedback file (its rejected rows)")
    p.add_argument("department",
                   help="department tag, authority code or name (plugins/credit_dw/feedback/providers.csv)")
    p.add_argument("--date", required=True, type=date.fromisoformat, help="delivery date, YYYY-MM-DD")
    p.add_argument("--out", type=Path, default=None, help="folder (default: CREDIT_DW_REPORTS/feedback)")
    p.set_defaults(handler=_feedback)


def _feedback(args: argparse.Namespace) -> int:
    from credit_dw import db, feedback

    try:
        with db.connect() as conn:
            path, rows = feedback.write_feedback(conn, args.department, args.date, args.out)
    except feedback.FeedbackError as exc:
        raise UserError(str(exc)) from exc
    print(f"{path}: {rows} rejected row(s) of {args.date}")
    return 0
