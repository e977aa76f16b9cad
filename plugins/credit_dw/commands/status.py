"""``credit-dw status``: per feed, the latest deliveries, row counts and failed batches.

Reads ``quality.batch_manifest`` only, so it is cheap and safe to run any time.
"""

from __future__ import annotations

import argparse

from credit_dw import db
from credit_dw.feeds import all_specs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="latest deliveries per feed: rows read/loaded/rejected, failures")
    p.add_argument("--deliveries", type=int, default=3, help="deliveries shown per feed (default 3)")
    p.set_defaults(handler=_status)


_LATEST = """
select delivery_date, count(*) filter (where status = 'loaded'), count(*) filter (where status = 'failed'),
       coalesce(sum(rows_read) filter (where status = 'loaded'), 0),
       coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0),
       coalesce(sum(rows_rejected) filter (where status = 'loaded'), 0),
       coalesce(sum(rows_warned) filter (where status = 'loaded'), 0)
from quality.batch_manifest where feed = %s
group by delivery_date order by delivery_date desc limit %s
"""
_FAILED = """
select m.batch_id, m.delivery_date, m.source_file, m.message from quality.batch_manifest m
where m.feed = %s and m.status = 'failed' and not exists (
  select 1 from quality.batch_manifest l where l.feed = m.feed and l.source_file = m.source_file
  and l.status = 'loaded' and l.batch_id > m.batch_id)
order by m.batch_id desc limit 10
"""


def _status(args: argparse.Namespace) -> int:
    with db.connect() as conn:
        for spec in all_specs():
            print(f"{spec.feed}  ({', '.join(spec.raw_tables)})")
            rows = conn.execute(_LATEST, (spec.feed, args.deliveries)).fetchall()
            if not rows:
                print("  no deliveries loaded yet")
            for day, loaded, failed, read, ok, rejected, warned in rows:
                print(f"  {day}  files loaded {loaded}, failed {failed};  rows read {read}, loaded {ok}, "
                      f"rejected {rejected}, warned {warned}")
            for batch_id, day, source_file, message in conn.execute(_FAILED, (spec.feed,)).fetchall():
                print(f"  FAILED batch {batch_id} ({day}) {source_file}: {message}")
    return 0
