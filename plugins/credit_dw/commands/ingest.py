"""``credit-dw ingest FEED --date D``: load one delivery, print a per-file summary.

Same function as the Airflow ingest task (``credit_dw.ingest.ingest_delivery``); exits
non-zero with the failure message when any file failed (after the good files are loaded).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from credit_dw.cli import UserError
from credit_dw.feeds import all_specs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load one delivery of a feed (validate, quarantine, load once)")
    p.add_argument("feed", choices=[s.feed for s in all_specs()])
    p.add_argument("--date", required=True, type=date.fromisoformat, help="delivery date YYYY-MM-DD")
    p.add_argument("--landing-root", default=None, help="default: $LANDING_ROOT")
    p.set_defaults(handler=_ingest)


def _ingest(args: argparse.Namespace) -> int:
    from credit_dw.ingest import (
        DeliveryRefused,
        IngestError,
        WarehouseUnavailable,
        delivery_folder,
        delivery_ready,
        ingest_delivery,
    )

    if not delivery_ready(args.feed, args.date, args.landing_root):
        raise UserError(f"{delivery_folder(args.feed, args.date, args.landing_root)} has no _DONE marker: "
                        "the delivery is absent or incomplete")
    try:
        result = ingest_delivery(args.feed, args.date, landing_root=args.landing_root)
    except IngestError as exc:
        print_table(exc.result.files)
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (DeliveryRefused, WarehouseUnavailable) as exc:
        raise UserError(str(exc)) from None
    print_table(result.files)
    return 0


def print_table(files) -> None:
    head = ("file", "status", "batch", "read", "loaded", "rejected", "warned", "encoding", "field set")
    rows = [(f.source_file, f.status, str(f.batch_id or ""), str(f.rows_read), str(f.rows_loaded),
             str(f.rows_rejected), str(f.rows_warned), f.encoding or "", f.field_set or "") for f in files]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for f in files:
        if f.message:
            print(f"  {f.message}" if f.source_file in f.message else f"  {f.source_file}: {f.message}")
