"""One small hand-written fixture per defect class, each asserting its stable reason code.

Row defects: the file loads, the good row is in raw.penalty, the bad one is quarantined with
its reason code and a message naming file, row and field. File defects: the batch is recorded
as failed with a message naming the file, nothing is loaded, and IngestError is raised after the
other files of the delivery were processed.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from test_ingest_support import FIXTURES, assert_reconciled, deliver, manifest, query, rejected

from credit_dw.ingest import IngestError, ingest_delivery

DEFECTS = FIXTURES / "defects"
_days = iter(date(2026, 12, 1) + timedelta(days=i) for i in range(200))

ROW_DEFECTS = [
    ("missing_required", "MISSING_REQUIRED", "CF_XDR_MC", 3),
    ("invalid_uscc", "INVALID_USCC", "CF_XDR_SHXYM", 3),
    ("invalid_org_code", "INVALID_ORG_CODE", "CF_XDR_ZZJG", 3),
    ("invalid_reg_number", "INVALID_REG_NUMBER", "CF_XDR_GSZC", 3),
    ("invalid_resident_id", "INVALID_RESIDENT_ID", "CF_XDR_ZJHM", 3),
    ("invalid_date", "INVALID_DATE", "CF_JDRQ", 3),
    ("invalid_amount", "INVALID_AMOUNT", "CF_NR_FK", 3),
    ("unknown_enum", "UNKNOWN_ENUM", "CF_CFLB", 3),
    ("unknown_authority", "UNKNOWN_AUTHORITY", "CF_XZJG", 3),
    ("duplicate_key", "DUPLICATE_KEY", "natural key", 3),
    ("malformed_row", "MALFORMED_ROW", "fields but the header has", 3),
    ("unclosed_quote", "MALFORMED_ROW", "never closed", 2),
    ("encoding", "ENCODING", "not valid utf-8", 3),
]


@pytest.mark.parametrize(("fixture", "code", "named", "row"), ROW_DEFECTS, ids=[d[0] for d in ROW_DEFECTS])
def test_row_defect_is_quarantined_with_its_reason(warehouse_dsn, landing_root, fixture, code, named, row):
    day = next(_days)
    name = f"penalty_{fixture}_{day:%Y%m%d}.csv"
    deliver(landing_root, "penalty", day, {name: DEFECTS / f"{fixture}.csv"})
    result = ingest_delivery("penalty", day)
    (loaded,) = result.files
    assert (loaded.status, loaded.rows_read, loaded.rows_loaded, loaded.rows_rejected) == ("loaded", 2, 1, 1)
    ((source_row, codes, message, raw),) = rejected(warehouse_dsn, loaded.batch_id)
    assert codes == [code]
    assert source_row == row
    assert name in message and f"row {row}" in message and named in message
    assert raw  # verbatim record kept
    assert "320102199003071238" not in message + raw  # personal IDs masked in the quarantine
    assert_reconciled(warehouse_dsn)


def test_encoding_defect_keeps_the_bytes_escaped(warehouse_dsn):
    raw = query(warehouse_dsn, "select raw_record from quality.rejected_rows where 'ENCODING' = any(reason_codes)")
    assert raw and "\\x" in raw[0][0] and "〔" not in raw[0][0]  # escaped bytes, not mojibake


def test_resident_id_is_masked_in_message(warehouse_dsn):
    (message,) = query(warehouse_dsn, "select message from quality.rejected_rows"
                       " where 'INVALID_RESIDENT_ID' = any(reason_codes)")[0]
    assert "3201**********1238" in message


FILE_DEFECTS = [
    ("empty", "penalty_empty_{d}.csv", "EMPTY_FILE"),
    ("unknown_field_set", "penalty_unknown_{d}.csv", "UNKNOWN_FIELD_SET"),
    ("no_header", "penalty_noheader_{d}.csv", "NO_HEADER"),
]


@pytest.mark.parametrize(("fixture", "pattern", "code"), FILE_DEFECTS, ids=[d[0] for d in FILE_DEFECTS])
def test_file_defect_fails_the_file_after_loading_the_others(warehouse_dsn, landing_root, fixture, pattern, code):
    day = next(_days)
    bad_name = pattern.format(d=f"{day:%Y%m%d}")
    good_name = f"penalty_good_{day:%Y%m%d}.csv"
    good = (FIXTURES / "penalty" / "current.csv").read_text(encoding="utf-8").replace("宁市监罚", f"宁{fixture}")
    deliver(landing_root, "penalty", day, {bad_name: DEFECTS / f"{fixture}.csv", good_name: good})
    with pytest.raises(IngestError) as err:
        ingest_delivery("penalty", day)
    assert bad_name in str(err.value) and code in str(err.value)
    files = {f.source_file.rsplit("/", 1)[1]: f for f in err.value.result.files}
    assert files[good_name].status == "loaded" and files[good_name].rows_loaded == 3
    failed = files[bad_name]
    assert failed.status == "failed"
    row = manifest(warehouse_dsn, failed.batch_id)
    assert row["status"] == "failed" and bad_name in row["message"] and code in row["message"]
    assert query(warehouse_dsn, "select count(*) from raw.penalty where batch_id = %s", (failed.batch_id,)) == [(0,)]


def test_non_data_file_fails_as_unexpected(warehouse_dsn, landing_root):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"notes.txt": DEFECTS / "notes.txt"})
    with pytest.raises(IngestError, match=r"UNEXPECTED_FILE.*notes\.txt"):
        ingest_delivery("penalty", day)


def test_failed_file_loads_once_fixed(warehouse_dsn, landing_root):
    """A failed attempt does not block a corrected re-delivery (only 'loaded' hashes are final)."""
    day = next(_days)
    folder = deliver(landing_root, "penalty", day, {"penalty_fix_1.csv": DEFECTS / "unknown_field_set.csv"})
    with pytest.raises(IngestError):
        ingest_delivery("penalty", day)
    fixed = (FIXTURES / "penalty" / "current.csv").read_text(encoding="utf-8").replace("宁市监罚", "宁FIX")
    (folder / "penalty_fix_1.csv").write_text(fixed, encoding="utf-8")
    result = ingest_delivery("penalty", day)
    assert [f.status for f in result.files] == ["loaded"]


def test_unexpected_field_is_drift_not_failure(warehouse_dsn, landing_root):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"penalty_drift.csv": DEFECTS / "drift.csv"})
    (f,) = ingest_delivery("penalty", day).files
    assert f.status == "loaded" and f.rows_loaded == 1
    assert "FIELD_DRIFT" in f.message and "CF_NEW_FIELD" in f.message
    assert "CF_NEW_FIELD" in manifest(warehouse_dsn, f.batch_id)["message"]
    # and as data: feed, file, field (quality.field_drift), what the report shows stewards
    with psycopg.connect(warehouse_dsn) as conn:
        stored = conn.execute("select feed, source_file, field, file_kind, field_set from quality.field_drift"
                              " where batch_id = %s", (f.batch_id,)).fetchall()
    assert stored == [("penalty", f.source_file, "CF_NEW_FIELD", "penalty", "current")]
    again = ingest_delivery("penalty", day).files[0]            # idempotent: skipped, nothing added
    with psycopg.connect(warehouse_dsn) as conn:
        assert again.status == "skipped"
        assert conn.execute("select count(*) from quality.field_drift where source_file = %s",
                            (f.source_file,)).fetchone()[0] == 1
