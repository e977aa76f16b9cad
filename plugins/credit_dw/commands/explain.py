"""``credit-dw explain SUBJECT [--as-of D] [--known-at T] [--json]``: why a subject shows what it shows.

Each rule that fired → the records that made it fire → each record's catalogue item, edition,
publicity window, rule version, status history, objections and repairs → the file and row it came
from. ``--as-of`` reproduces a past date from the history the publish step keeps; ``--known-at``
replays what the warehouse knew at a moment (before a later rebuild corrected it).
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="why a subject has its grade, list entries and records on a date")
    add_subject_arguments(p)
    p.add_argument("--json", action="store_true", help="the explanation document as JSON")
    p.set_defaults(handler=_explain)


def add_subject_arguments(p: argparse.ArgumentParser) -> None:
    """SUBJECT, --as-of and --known-at: the same for ``explain`` and ``report subject``."""
    p.add_argument("subject", help="a USCC, or a subject key (marts.dim_credit_subject.subject_key)")
    p.add_argument("--as-of", type=date.fromisoformat, default=None,
                   help="YYYY-MM-DD (default: today, Asia/Shanghai)")
    p.add_argument("--known-at", type=datetime.fromisoformat, default=None,
                   help="ISO timestamp: what the warehouse knew then (default: now); reproduces a printed copy")


def _explain(args: argparse.Namespace) -> int:
    from credit_dw import db, explain
    from credit_dw.quality.gate import today

    try:
        with db.connect() as conn:
            doc = explain.explain(conn, args.subject, args.as_of or today(), args.known_at)
    except explain.ExplainError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        print(explain.render_text(doc))
    return 0
