"""Every feed over sample deliveries: quarantine matches the planted defects exactly.

The generator (``credit_dw.generate``) records per file how many rows it corrupted and how; a
correct ingest quarantines exactly those, with the matching reason codes, and warns on exactly
the planted register anomalies. Every batch reconciles. Run over the committed sample tree
(``samples/landing``, what ``make demo`` loads) and over a freshly generated one with another seed.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from test_ingest_support import assert_reconciled, query

from credit_dw.config import PROJECT_ROOT
from credit_dw.ingest import IngestError, ingest_delivery

COMMITTED = PROJECT_ROOT / "samples" / "landing"
SUMMARY = "_generation.json"

# generator defect class → the reason code ingestion must give it
REASON = {
    "bad_uscc_check": "INVALID_USCC", "malformed_uscc": "INVALID_USCC", "missing_required": "MISSING_REQUIRED",
    "bad_date": "INVALID_DATE", "bad_amount": "INVALID_AMOUNT", "unknown_enum": "UNKNOWN_ENUM",
    "duplicate_key": "DUPLICATE_KEY", "bad_resident_id": "INVALID_RESIDENT_ID",
    "unknown_authority": "UNKNOWN_AUTHORITY", "bad_org_code": "INVALID_ORG_CODE",
    "bad_registration_number": "INVALID_REG_NUMBER", "undecodable_bytes": "ENCODING",
    "bad_year_month": "INVALID_YEAR_MONTH",
}


def _generated(tmp_path: Path) -> Path:
    generate = pytest.importorskip("credit_dw.generate")
    root = tmp_path / "landing"
    generate.generate(root, date(2026, 11, 1), days=2, rows=150, seed=3)
    return root


@pytest.mark.parametrize("source", ["committed", "generated"])
def test_samples_load_with_the_planted_defects_quarantined(fresh_dsn, tmp_path, source):
    if source == "committed" and not (COMMITTED / SUMMARY).exists():
        pytest.skip("no committed sample tree")
    root = COMMITTED if source == "committed" else _generated(tmp_path)
    summary = json.loads((root / SUMMARY).read_text())
    feeds = sorted({f["feed"] for f in summary["files"]})
    for day in sorted({f["day"] for f in summary["files"]}):
        for feed in feeds:
            try:
                ingest_delivery(feed, date.fromisoformat(day), landing_root=root)
            except IngestError as exc:  # pragma: no cover - shows which file failed
                pytest.fail(str(exc))
    problems = []
    for f in summary["files"]:
        ((batch_id, read, warned),) = query(fresh_dsn, "select batch_id, rows_read, rows_warned"
                                            " from quality.batch_manifest where source_file = %s"
                                            " and status = 'loaded'", (f["file"],))
        got = Counter()
        for (codes,) in query(fresh_dsn, "select reason_codes from quality.rejected_rows where batch_id = %s",
                              (batch_id,)):
            got.update(codes)
        want = Counter()
        for defect, n in f["defects"].items():
            want[REASON[defect]] += n
        if (read, warned, got) != (f["rows"], f["variants"].get("register_anomaly", 0), want):
            problems.append((f["file"], read, f["rows"], warned, dict(got), dict(want)))
    assert problems == []
    assert_reconciled(fresh_dsn)
