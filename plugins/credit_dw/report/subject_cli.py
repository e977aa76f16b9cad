"""``credit-dw report subject SUBJECT [--as-of D] [--known-at T] [--out FILE]``: a subject's credit report."""

from __future__ import annotations

import argparse
from pathlib import Path

from credit_dw.cli import UserError


def register(kinds: argparse._SubParsersAction) -> None:
    from credit_dw.commands.explain import add_subject_arguments

    p = kinds.add_parser("subject", help="one subject's credit report as a self-contained HTML page")
    add_subject_arguments(p)
    p.add_argument("--out", type=Path, default=None,
                   help="HTML file (default: CREDIT_DW_REPORTS/subjects/<USCC>_<date>.html)")
    p.set_defaults(handler=_subject)


def _subject(args: argparse.Namespace) -> int:
    from credit_dw import explain
    from credit_dw.quality.gate import today
    from credit_dw.report.subject import render_subject_report

    try:
        path, digest = render_subject_report(args.subject, args.as_of or today(), args.known_at, args.out)
    except explain.ExplainError as exc:
        raise UserError(str(exc)) from exc
    print(f"{path}\nsha256 {digest}")
    return 0
