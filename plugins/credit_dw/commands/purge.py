"""``credit-dw purge``: delete raw and quarantined rows past their retention period (Art. 10)."""

from __future__ import annotations

import argparse
from datetime import date

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purge", help="delete rows past the catalogue's retention period (audited)")
    p.add_argument("--as-of", type=date.fromisoformat, default=None,
                   help="YYYY-MM-DD to evaluate retention for (default: today, Asia/Shanghai)")
    p.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    p.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    from credit_dw import governance

    try:
        counts = governance.purge_expired(args.as_of, dry_run=args.dry_run)
    except governance.GovernanceError as exc:
        raise UserError(str(exc)) from exc
    verb = "would purge" if args.dry_run else "purged"
    for count in counts:
        print(f"{verb} {count.rows_purged:>8} rows from {count.table_name}  ({count.rule})")
    if not counts:
        print("nothing past retention")
    if not args.dry_run:
        print("recorded in governance.purge_audit; the marts drop these records at the next build")
    return 0
