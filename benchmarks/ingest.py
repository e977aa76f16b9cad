"""Ingestion against a bare COPY of the same files, in the same run: ratio, rows/s, peak RSS.

For each size N: one delivery of N rows of ``--feed`` (penalty: 10 department files, UTF-8 and
GB18030 mixed; registration: the register's one file; ``credit_dw.generate``), ingested on a
fresh warehouse database in a child process of its own.
The ingest's peak resident set is read per file (VmHWM, reset before each ``load_file``), so it
is the ingest's alone; the child's whole peak (the bare COPY and the store measurement
included: the highest VmHWM read before each reset) is recorded beside it. In the same child,
file by file, the same bytes are first loaded by a *bare COPY* — the file streamed as is into
an unindexed table of all-text columns (``COPY … (FORMAT csv, HEADER, ENCODING …)``, what ``\\copy`` does) — and then by
``load_file``, the function ``ingest_delivery`` calls per file (validation, quarantine, person
register, raw insert, manifest).
The ratio is bare-COPY seconds / ingest seconds (1.0 = as fast as the server can store the file),
overall and per encoding. After each ingest, the rows it stored are COPYed once more into the
same indexed raw table in a rolled-back transaction (``store_seconds``): the server's part alone,
so bare COPY / store (``ratio_ceiling``) is the best ratio any ingest into that table can reach.

A bare COPY rejects the whole file at the first undecodable byte or wrong field count, so the
deliveries are generated without planted defects (``--defect-rate 0``, the default here); the
ingest still validates every value. ``--defect-rate 0.03`` measures ingest alone on defective
deliveries (bare COPY is then skipped for files it cannot load, and the ratio says so).

The machine is shared: run it niced, in the background, and expect ±20 % between runs::

    nice -n 10 .venv/bin/python benchmarks/ingest.py --rows 1000000 --rows 4000000 \\
        --name ingest_vs_copy.json
    nice -n 10 .venv/bin/python benchmarks/ingest.py --feed registration --rows 1000000 \\
        --name ingest_register_vs_copy.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import harness

START = date(2026, 11, 20)
SEED = 20261120
# penalty: ten department files, UTF-8 and GB18030; registration: one UTF-8 file whose codes are
# all distinct (quoted multi-line addresses, five identifier indexes on its raw table)
FEEDS = ("penalty", "registration")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    harness.prepare_environment()
    if args.command == "child":
        print(json.dumps(child(args.dsn, Path(args.root), args.feed)))
        return 0
    sizes = args.rows or [1_000_000, 4_000_000]
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_", dir=args.work_dir))
    result: dict = {"benchmark": "ingest_vs_bare_copy", "machine": harness.machine(),
                    "postgres": harness.server(server_dsn()), "defect_rate": args.defect_rate,
                    "engine": "columnar (CREDIT_DW_INGEST_ENGINE default)", "runs": [], "seconds": {}}
    path = args.out / args.name
    try:
        for rows in sizes:
            root = args.data / f"{rows}" if args.data else work / f"{args.feed}_{rows}"
            if not (root / args.feed).exists():
                with harness.timed(result["seconds"], f"generate_{rows}"):
                    _generate(rows, root, args.defect_rate, args.feed)
            print(f"== {args.feed} {harness.human(rows)}", file=sys.stderr, flush=True)
            result["runs"].append(measure(rows, root, args.keep, args.feed))
            harness.write_json(path, result)  # a crash later keeps what was measured
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"results: {path}", file=sys.stderr)
    print(summary_table(result["runs"]))
    return 0


def server_dsn() -> str:
    from psycopg.conninfo import make_conninfo

    from credit_dw import db

    return make_conninfo(db.ensure_server(), dbname="postgres")


def _generate(rows: int, root: Path, defect_rate: float, feed: str) -> None:
    from credit_dw.generate import generate

    generate(root, START, 1, rows, SEED, defect_rate=defect_rate, feeds=[feed])


def measure(rows: int, root: Path, keep: bool, feed: str) -> dict:
    with harness.fresh_database(prefix="credit_dw_bench_ingest", keep=keep) as dsn:
        done = subprocess.run([sys.executable, __file__, "child", "--dsn", dsn, "--root", str(root), "--feed", feed],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ingest child failed:\n{done.stderr[-4000:]}")
    run = {"feed": feed, "generated_rows": rows, **json.loads(done.stdout)}
    print(f"  {run['rows_read']} rows: ingest {run['ingest_seconds']} s ({run['rows_per_s']} rows/s), bare COPY "
          f"{run['copy_seconds']} s, ratio {run['ratio']}, ingest peak RSS {run['ingest_peak_rss_mib']} MiB "
          f"(the whole child's {run['peak_rss_mib']} MiB)", file=sys.stderr)
    return run


def child(dsn: str, root: Path, feed: str) -> dict:
    """In a fresh process: per file, bare COPY then ``load_file``; totals, ratio and peak RSS."""
    import psycopg

    from credit_dw.feeds import load_spec
    from credit_dw.ingest.loader import load_file

    spec = load_spec(feed)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    between_ingests: list[float] = []  # peaks of what ran between two resets: bare COPY, store measurement
    folder = root / feed / START.isoformat()
    files = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in sorted(p for p in folder.iterdir() if p.suffix == ".csv"):
            copy_s = bare_copy(conn, path, spec)
            between_ingests.append(peak_rss_since_reset() or 0.0)
            reset_peak_rss()
            started = time.perf_counter()
            loaded = load_file(spec, spec.kind_for(path.name), path, START, dsn=dsn, landing_root=root)
            ingest_s = time.perf_counter() - started
            ingest_peak = peak_rss_since_reset()
            store_s = store_copy(conn, spec.kind_for(path.name).raw_table, loaded.batch_id) if loaded.batch_id else None
            files.append({"file": path.name, "encoding": loaded.encoding, "bytes": path.stat().st_size,
                          "rows_read": loaded.rows_read, "rows_loaded": loaded.rows_loaded,
                          "rows_rejected": loaded.rows_rejected, "status": loaded.status,
                          "copy_seconds": None if copy_s is None else round(copy_s, 3),
                          "ingest_seconds": round(ingest_s, 3),
                          "ingest_peak_rss_mib": ingest_peak,
                          "store_seconds": None if store_s is None else round(store_s, 3)})
    between_ingests.append(peak_rss_since_reset() or 0.0)
    ingest_peaks = [f["ingest_peak_rss_mib"] for f in files if f["ingest_peak_rss_mib"] is not None]
    # not ru_maxrss: Linux derives it from VmHWM, which every reset above clears, so it would
    # tell only the peak since the last file's ingest began
    peak = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, *between_ingests, *ingest_peaks])
    return {**_totals(files), "by_encoding": {enc: _totals([f for f in files if _family(f) == enc])
                                              for enc in sorted({_family(f) for f in files})},
            "baseline_rss_mib": round(baseline / 1024, 1),
            "ingest_peak_rss_mib": max(ingest_peaks) if ingest_peaks else None,
            "peak_rss_mib": round(peak, 1), "files": files}


def reset_peak_rss() -> None:
    """Start this process's peak resident set afresh (Linux: ``clear_refs`` 5 resets VmHWM), so
    the peak read after ``load_file`` is the ingest's alone, not the bare COPY's or the store
    measurement's around it (the store's COPY TO of a million rows briefly holds more than the
    ingest ever does)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_since_reset() -> float | None:
    """VmHWM in MiB: the peak since ``reset_peak_rss`` (None where /proc does not tell)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def bare_copy(conn, path: Path, spec) -> float | None:
    """The file as is into an unindexed all-text table (fresh per file); None if COPY rejects it."""
    import psycopg
    from psycopg import sql

    from credit_dw.ingest.encoding import detect_encoding

    kind = spec.kind_for(path.name)
    encoding = detect_encoding(path, kind.encoding)
    with path.open("rb") as fh:
        width = len(fh.readline().split(b","))
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(width))
    conn.execute("drop table if exists bare_copy")
    conn.execute(sql.SQL("create table bare_copy ({})").format(columns))
    pg_encoding = "GB18030" if encoding == "gb18030" else "UTF8"
    started = time.perf_counter()
    try:
        with conn.cursor().copy(sql.SQL("copy bare_copy from stdin (format csv, header true, encoding {})")
                                .format(sql.Literal(pg_encoding))) as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
    except psycopg.Error:
        return None
    finally:
        seconds = time.perf_counter() - started
        conn.execute("drop table if exists bare_copy")
    return seconds


def store_copy(conn, raw_table: str, batch_id: int) -> float:
    """The server's part alone: the file's validated rows, as the ingest wrote them, COPYed again
    into the indexed raw table (in a transaction rolled back). No ingest that stores into this
    table can take less than this, so bare COPY / store is the ceiling of the ratio."""
    from psycopg import sql

    table = sql.Identifier(*raw_table.split("."))
    with tempfile.TemporaryFile() as spool:  # on disk: the child's peak RSS is the ingest's
        spool_rows(conn, sql.SQL("select * from {} where batch_id = {}").format(table, sql.Literal(batch_id)), spool)
        return copy_back(conn, table, spool)


def spool_rows(conn, query, spool) -> None:
    """The rows of ``query`` as CSV into the open binary file ``spool``."""
    from psycopg import sql

    with conn.cursor().copy(sql.SQL("copy ({}) to stdout (format csv)").format(query)) as copy:
        for chunk in copy:
            spool.write(chunk)


def copy_back(conn, table, spool) -> float:
    """Seconds to COPY ``spool`` (CSV) into ``table``, in a transaction rolled back."""
    from psycopg import sql

    spool.seek(0)
    with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        with conn.cursor().copy(sql.SQL("copy {} from stdin (format csv)").format(table)) as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started


def _family(f: dict) -> str:
    return "gb18030" if f["encoding"] == "gb18030" else "utf-8"


def _totals(files: list[dict]) -> dict:
    comparable = [f for f in files if f["copy_seconds"] is not None]
    ingest_s = sum(f["ingest_seconds"] for f in files)
    copy_s = sum(f["copy_seconds"] for f in comparable)
    ingest_cmp = sum(f["ingest_seconds"] for f in comparable)
    store_s = sum(f.get("store_seconds") or 0 for f in comparable)
    rows = sum(f["rows_read"] for f in files)
    return {"files": len(files), "input_mib": round(sum(f["bytes"] for f in files) / 2**20, 1), "rows_read": rows,
            "rows_loaded": sum(f["rows_loaded"] for f in files),
            "rows_rejected": sum(f["rows_rejected"] for f in files),
            "ingest_seconds": round(ingest_s, 2), "copy_seconds": round(copy_s, 2),
            "rows_per_s": round(rows / ingest_s) if ingest_s else None,
            "ratio": round(copy_s / ingest_cmp, 3) if ingest_cmp and comparable else None,
            "store_seconds": round(store_s, 2),
            "ratio_ceiling": round(copy_s / store_s, 3) if store_s and comparable else None,
            "files_compared": len(comparable)}


def summary_table(runs: list[dict]) -> str:
    rows = []
    for r in runs:
        for label, t in [("all", r), *sorted(r["by_encoding"].items())]:
            rows.append([harness.human(r["generated_rows"]), label, t["rows_read"], t["input_mib"], t["copy_seconds"],
                         t["ingest_seconds"], t["ratio"], t["rows_per_s"], t.get("store_seconds"),
                         t.get("ratio_ceiling"), r.get("ingest_peak_rss_mib", "") if label == "all" else "",
                         r["peak_rss_mib"] if label == "all" else ""])
    return harness.markdown_table(["rows", "files", "rows read", "MiB", "bare COPY s", "ingest s",
                                   "ratio", "rows/s", "store s", "ratio ceiling", "ingest peak RSS MiB",
                                   "child peak RSS MiB"], rows)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", nargs="?", default="run", choices=["run", "child"], help=argparse.SUPPRESS)
    p.add_argument("--feed", choices=FEEDS, default="penalty", help="the feed delivered (default penalty)")
    p.add_argument("--rows", type=int, action="append", help="rows per delivery (repeatable; default 1M and 4M)")
    p.add_argument("--defect-rate", type=float, default=0.0, help="planted defects (bare COPY needs 0)")
    p.add_argument("--data", type=Path, default=None,
                   help="reuse deliveries generated before under DATA/<rows>/ (generated there if absent)")
    p.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--work-dir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--name", default="ingest_vs_copy.json", help="result file name under --out")
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
