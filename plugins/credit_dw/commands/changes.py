"""``credit-dw changes --since D [--until D] [--json]``: what the published nights changed, per subject.

Reads ``marts.subject_change_event`` (one row per change a night made to what a subject shows).
Systems that sync poll with ``--json`` from the last night they applied; events carry an
increasing ``event_id``.
"""

from __future__ import annotations

import argparse
import json
from datetime import date


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("changes", help="change events of the published nights since a date")
    p.add_argument("--since", required=True, type=date.fromisoformat, help="first night, YYYY-MM-DD")
    p.add_argument("--until", type=date.fromisoformat, default=None, help="last night (default: all)")
    p.add_argument("--json", action="store_true", help="a JSON array of events")
    p.set_defaults(handler=_changes)


def _changes(args: argparse.Namespace) -> int:
    from credit_dw import changes, db

    with db.connect() as conn:
        rows = changes.events(conn, args.since, args.until)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return 0
    for r in rows:
        who = r["uscc"] or r["id_masked"] or r["subject_key"][:16]
        change = f"{r['from_value'] or '-'} -> {r['to_value'] or '-'}" if r["from_value"] or r["to_value"] else ""
        record = f" record {r['record_id']}" if r["record_id"] else ""
        print(f"{r['night']}  {r['event_type']:<25} {who:<20} {r['subject_name'] or '':<16}{record} {change}".rstrip())
    print(f"{len(rows)} change(s) since {args.since}")
    return 0
