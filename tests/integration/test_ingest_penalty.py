"""Penalty ingestion end to end on a real PostgreSQL: both field sets, re-delivery, encodings."""

from __future__ import annotations

from datetime import date

import pytest
from test_ingest_support import FIXTURES, assert_reconciled, deliver, query

from credit_dw.ingest import delivery_ready, ingest_delivery

PENALTY = FIXTURES / "penalty"
COMMON = ("authority_code, decision_number, operation, party_name, party_uscc, party_registration_number,"
          " party_id_type, party_id_hash, party_id_masked, penalty_types, decided_on, authority_name, facts,"
          " legal_basis, source_row")


def test_delivery_ready_needs_done(warehouse_dsn, landing_root):
    day = date(2026, 11, 1)
    deliver(landing_root, "penalty", day, {"penalty_a_20261101.csv": PENALTY / "current.csv"}, done=False)
    assert not delivery_ready("penalty", day)
    (landing_root / "penalty" / day.isoformat() / "_DONE").touch()
    assert delivery_ready("penalty", day, landing_root)


def test_both_field_sets_load_into_the_same_model(warehouse_dsn, landing_root):
    day = date(2026, 11, 2)
    deliver(landing_root, "penalty", day, {"penalty_legacy_nj_20261102.csv": PENALTY / "legacy.csv",
                                           "penalty_nj_20261102.csv": PENALTY / "current.csv"})
    result = ingest_delivery("penalty", day)
    by_set = {f.field_set: f for f in result.files}
    assert set(by_set) == {"current", "legacy"}  # detected from the header, not the file name
    assert all(f.rows_read == 3 and f.rows_loaded == 3 for f in result.files)
    rows = {fs: query(warehouse_dsn, f"select {COMMON} from raw.penalty where batch_id = %s order by source_row",
                      (f.batch_id,)) for fs, f in by_set.items()}
    assert rows["current"] == rows["legacy"]
    ops = [r[2] for r in rows["legacy"]]
    assert ops == ["I", "I", "D"]  # CF_ZT 1 → D
    first = rows["current"][0]
    assert first[0] == "113201000150986026"  # legacy: resolved from CF_XZJG via departments.csv
    assert first[9] == ["罚款", "警告"]
    assert first[12] == "虚假宣传,\n误导消费者"  # embedded newline kept; source_row = record start
    fine, valid_until = query(warehouse_dsn, "select fine_cny, valid_until from raw.penalty where batch_id = %s"
                              " and source_row = 2", (by_set["current"].batch_id,))[0]
    assert str(fine) == "3500.00" and valid_until is None  # 0.35 × 10,000 CNY exactly; 2099-12-31 → null
    assert [r[14] for r in rows["current"]] == [2, 4, 5]
    assert_reconciled(warehouse_dsn)


def test_personal_ids_only_in_restricted(warehouse_dsn):
    clear = "320102199003071239"
    hits = query(warehouse_dsn, "select count(*) from raw.penalty where %s in (party_id_hash, party_id_masked,"
                 " legal_rep_id_hash, legal_rep_id_masked)", (clear,))
    assert hits == [(0,)]
    identity = query(warehouse_dsn, "select id_number, id_type, id_masked from restricted.person_identity"
                     " where id_number = %s", (clear,))
    assert identity == [(clear, "01", "3201**********1239")]


def test_identical_redelivery_is_skipped(warehouse_dsn, landing_root):
    day = date(2026, 11, 3)
    deliver(landing_root, "penalty", day, {"penalty_again_20261103.csv": PENALTY / "current.csv"})
    before = query(warehouse_dsn, "select count(*) from raw.penalty")
    result = ingest_delivery("penalty", day)
    assert [f.status for f in result.files] == ["skipped"]
    assert query(warehouse_dsn, "select count(*) from raw.penalty") == before


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_bom_and_gb18030_copies_load_identically(warehouse_dsn, landing_root, encoding):
    text = (PENALTY / "current.csv").read_text(encoding="utf-8")
    # a distinct decision-number prefix per copy, so content hashes differ from the UTF-8 original
    text = text.replace("宁市监罚", f"宁市监罚{encoding[-3:].upper()}")
    day = date(2026, 11, 4)
    name = f"penalty_{encoding}_20261104.csv"
    deliver(landing_root, "penalty", day, {name: text.encode(encoding)})
    result = ingest_delivery("penalty", day)
    loaded = next(f for f in result.files if f.source_file.endswith(name))
    assert loaded.encoding == encoding and loaded.rows_loaded == 3
    got = query(warehouse_dsn, f"select {COMMON} from raw.penalty where batch_id = %s order by source_row",
                (loaded.batch_id,))
    original = query(warehouse_dsn, f"select {COMMON} from raw.penalty where field_set = 'current'"
                     " and decision_number like '宁市监罚〔%%' and source_file like %s order by source_row",
                     ("%penalty_nj_20261102.csv",))
    strip = [(r[0], r[1].replace(encoding[-3:].upper(), ""), *r[2:]) for r in got]
    assert strip == original
