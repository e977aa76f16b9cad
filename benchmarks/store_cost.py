"""What the server's store into ``raw.penalty`` costs, index by index.

Ingests one penalty delivery (``--data``: a landing root holding ``penalty/<day>/``, e.g. the
one ``ingest.py --data`` generated) into a fresh warehouse database, spools the stored rows, and
COPYs them back in rolled-back transactions, best of two (``ingest.copy_back``, the way
``ingest.py`` times its ratio ceiling): into an unindexed all-text table (the bare COPY of those
rows), and into ``raw.penalty`` with its two indexes, with the ``batch_id`` index as BRIN,
without it, and without any index. The differences are what each index costs the store, the
floor under any validated ingest::

    nice -n 10 .venv/bin/python benchmarks/store_cost.py --data /path/to/landing --day 2026-11-20
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import harness
from ingest import copy_back, spool_rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    harness.prepare_environment()
    import psycopg
    from psycopg import sql

    from credit_dw.ingest.delivery import ingest_delivery

    result = {"benchmark": "store_cost", "machine": harness.machine(), "seconds": {}}
    with harness.fresh_database(prefix="credit_dw_bench_store") as dsn, \
            tempfile.TemporaryFile(dir=args.work_dir) as spool:
        started = time.perf_counter()
        ingested = ingest_delivery("penalty", args.day, dsn=dsn, landing_root=args.data)
        result["ingest_seconds"] = round(time.perf_counter() - started, 2)
        result["rows"] = ingested.totals()
        with psycopg.connect(dsn, autocommit=True) as conn:
            spool_rows(conn, sql.SQL("select * from raw.penalty"), spool)
            columns = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw'"
                " and table_name = 'penalty' order by ordinal_position")]
            conn.execute("create table public.bare (" + ", ".join(f'"{c}" text' for c in columns) + ")")

            def store(label: str, table: str) -> None:
                best = min(copy_back(conn, sql.Identifier(*table.split(".")), spool) for _ in range(2))
                result["seconds"][label] = round(best, 2)
                print(f"{label}: {best:.2f} s", flush=True)

            store("bare_all_text", "public.bare")
            store("both_indexes", "raw.penalty")
            conn.execute("drop index raw.penalty_batch")
            conn.execute("create index penalty_batch on raw.penalty using brin (batch_id)")
            store("batch_index_brin", "raw.penalty")
            conn.execute("drop index raw.penalty_batch")
            store("no_batch_index", "raw.penalty")
            conn.execute("drop index raw.penalty_key")
            store("no_index", "raw.penalty")
    path = harness.write_json(args.out / args.name, result)
    print(json.dumps(result["seconds"]))
    print(f"results: {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="landing root holding penalty/<day>/")
    p.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 20))
    p.add_argument("--work-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--name", default="store_cost.json")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
