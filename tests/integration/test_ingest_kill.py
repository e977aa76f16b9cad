"""A load killed with SIGKILL in the middle of its COPY leaves no trace, and the rerun loads once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

from test_ingest_support import deliver, query

from credit_dw.ingest import ingest_delivery

ROWS = 40_000
HEADER = "CF_WSH,CF_XDR_MC,CF_XDR_LB,CF_XDR_SHXYM,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_YXQ,CF_CFJG,CF_CFJGDM,CZBS,CF_SY\n"


def _big_penalty_file() -> bytes:
    lines = [HEADER] + [
        f"宁罚〔2026〕{i}号,南京某某科技有限公司{i},法人及非法人组织,91320100MA1W3XYU55,罚款;警告,0.35,"
        f"2026-10-30,2099-12-31,南京市市场监督管理局,113201000150986026,I,\"虚假宣传,\n误导消费者\"\n"
        for i in range(ROWS)
    ]
    return "".join(lines).encode("utf-8")


def _copy_progress(dsn: str) -> int | None:
    """Rows the server has received so far in the loader's COPY, or None if no COPY is running."""
    rows = query(dsn, "select p.tuples_processed from pg_stat_progress_copy p"
                      " join pg_stat_activity a using (pid) where a.query ilike 'copy %%'"
                      " and a.datname = current_database()")
    return rows[0][0] if rows else None


def test_kill_during_copy_then_rerun_loads_exactly_once(fresh_dsn, landing_root):
    day = date(2026, 11, 5)
    deliver(landing_root, "penalty", day, {"penalty_big_20261105.csv": _big_penalty_file()})
    env = {**os.environ, "WAREHOUSE_DSN": fresh_dsn, "LANDING_ROOT": str(landing_root)}
    proc = subprocess.Popen([sys.executable, "-m", "credit_dw.cli", "ingest", "penalty", "--date", day.isoformat()],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = _copy_progress(fresh_dsn)
            if progress is not None and progress > 1000:
                break
            assert proc.poll() is None, f"ingest ended before it could be killed: {proc.stderr.read()}"
            time.sleep(0.02)
        else:
            raise AssertionError("the COPY never started")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert progress < ROWS  # killed mid-COPY, not after
    # the server notices the dead client and rolls back: nothing of the batch is visible
    for _ in range(100):
        if _copy_progress(fresh_dsn) is None:
            break
        time.sleep(0.05)
    assert query(fresh_dsn, "select count(*) from quality.batch_manifest") == [(0,)]
    assert query(fresh_dsn, "select count(*) from raw.penalty") == [(0,)]
    assert query(fresh_dsn, "select count(*) from quality.rejected_rows") == [(0,)]

    (f,) = ingest_delivery("penalty", day).files
    assert (f.status, f.rows_read, f.rows_loaded) == ("loaded", ROWS, ROWS)
    assert ingest_delivery("penalty", day).files[0].status == "skipped"
    assert query(fresh_dsn, "select count(*), count(distinct decision_number) from raw.penalty") == [(ROWS, ROWS)]
    assert query(fresh_dsn, "select count(*) from quality.batch_manifest") == [(1,)]
