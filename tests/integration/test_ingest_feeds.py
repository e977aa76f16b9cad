"""Registration, tax, social insurance and judicial ingestion on a real PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import openpyxl
import psycopg
import pytest
from test_ingest_support import FIXTURES, assert_reconciled, deliver, query, rejected

from credit_dw.feeds import all_specs
from credit_dw.ingest import IngestError, ingest_delivery


def test_every_spec_column_exists_in_its_raw_table(warehouse_dsn):
    """A spec mapping to a column the migrations do not have would only fail at load time."""
    for spec in all_specs():
        for kind in spec.files:
            schema, table = kind.raw_table.split(".")
            have = {r[0] for r in query(warehouse_dsn, "select column_name from information_schema.columns"
                                        " where table_schema = %s and table_name = %s", (schema, table))}
            for fs in kind.field_sets:
                wanted = {c for f in fs.fields for c in (f.column, f.hash_column, f.masked_column,
                                                         f.type_column, f.uscc_column, f.flag_column) if c}
                wanted |= {d.column for f in fs.fields for d in f.derive} | set(fs.constants)
                wanted |= set(kind.natural_key)
                assert wanted <= have, f"{spec.feed}/{fs.name}: {sorted(wanted - have)} not in {kind.raw_table}"


def test_registration_keeps_history_and_flags_register_anomalies(warehouse_dsn, landing_root):
    day = date(2026, 11, 1)
    deliver(landing_root, "registration", day, {"registration_20261101.csv": FIXTURES / "registration" / "delta.csv"})
    (f,) = ingest_delivery("registration", day).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_warned) == (5, 5, 0, 1)
    rows = query(warehouse_dsn, "select uscc, uscc_check_failed, name, updated_at, deregistered_on"
                 " from raw.registration where batch_id = %s order by source_row", (f.batch_id,))
    assert [r[2] for r in rows[:2]] == ["南京某某科技有限公司", "南京某某新科技有限公司"]  # history, not overwrite
    assert rows[2][:2] == ("91310115MA1K3BTP2C", True)  # checksum fails: loaded, flagged
    assert rows[3][0] == "N2320102MA1X2Y3W48"  # letters in positions 1-2
    assert rows[3][3] == datetime(2026, 11, 1, 12, 0)
    assert rows[4][4] == date(2026, 10, 31)
    assert "warning" in query(warehouse_dsn, "select message from quality.batch_manifest where batch_id = %s",
                              (f.batch_id,))[0][0]


def test_tax_gb18030_two_files(warehouse_dsn, landing_root):
    day = date(2026, 11, 1)
    deliver(landing_root, "tax", day, {"zdsswf_20261101.csv": FIXTURES / "tax" / "zdsswf.csv",
                                       "nsxy_20261101.csv": FIXTURES / "tax" / "nsxy.csv"})
    files = {f.kind: f for f in ingest_delivery("tax", day).files}
    viol, rating = files["tax_violation"], files["tax_rating"]
    assert viol.encoding == rating.encoding == "gb18030"
    assert (viol.rows_loaded, viol.rows_rejected) == (2, 1)
    assert [r[1] for r in rejected(warehouse_dsn, viol.batch_id)] == [["INVALID_USCC"]]
    rows = query(warehouse_dsn, "select taxpayer_number, taxpayer_uscc, name, legal_rep_id_masked, authority_code"
                 " from raw.tax_violation where batch_id = %s order by source_row", (viol.batch_id,))
    assert rows[0][:2] == ("91320100MA1W3XYU55", "91320100MA1W3XYU55")  # full-width folded
    # an individual business keyed by a resident ID: only the HMAC reaches raw
    assert rows[1][0] != "320102199003071239" and len(rows[1][0]) == 64 and rows[1][1] is None
    assert rows[0][4] == "13201000000"
    assert (rating.rows_loaded, rating.rows_rejected) == (3, 1)
    assert [r[1] for r in rejected(warehouse_dsn, rating.batch_id)] == [["UNKNOWN_ENUM"]]
    assert query(warehouse_dsn, "select count(*) from raw.tax_rating where taxpayer_uscc is null"
                 " and batch_id = %s", (rating.batch_id,)) == [(1,)]  # the legacy 15-character number
    assert_reconciled(warehouse_dsn)


def test_a_20_character_taxpayer_number_links_to_its_owners_id_not_its_own_hash(warehouse_dsn, landing_root):
    """An individual business's 20-character number is its owner's ID + 2 digits: the record keeps
    the whole number's keyed hash as its key, the person key is the owner's ID hash (what a penalty
    naming the owner by ID gets), and the clear number is only in restricted."""
    import os

    from credit_dw import identifiers as ids

    owner = "320102199003071239"
    number = owner + "01"
    key = os.environ["CREDIT_DW_PII_KEY"].encode()
    day = date(2026, 11, 3)
    deliver(landing_root, "tax", day, {"nsxy_20261103.csv": (
        "NSRSBH,NSRMC,PJND,XYJB,PJRQ\n"
        f"{number},南京某某小吃店,2025,B,2026-04-22\n"
        f"{owner},南京某某便利店,2025,A,2026-04-22\n").encode("gb18030")})
    ingest_delivery("tax", day)
    loaded = query(warehouse_dsn, "select taxpayer_number, taxpayer_id_hash, name from raw.tax_rating"
                   " where name in ('南京某某小吃店', '南京某某便利店') order by name desc")
    assert loaded == [
        (ids.pii_hash(number, key), ids.pii_hash(owner, key), "南京某某小吃店"),   # 20 characters: the owner
        (ids.pii_hash(owner, key), ids.pii_hash(owner, key), "南京某某便利店"),    # 18: the owner's ID itself
    ]
    assert query(warehouse_dsn, "select count(*) from raw.tax_rating where %s in (taxpayer_number, name)",
                 (number,)) == [(0,)]
    assert query(warehouse_dsn, "select id_masked from restricted.person_identity where id_number = %s",
                 (number,)) == [(ids.mask_id(number),)]


def _arrears_workbook(path):
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("欠缴信息")
    ws.append(["单位名称", "统一社会信用代码", "险种", "欠缴金额（元）", "欠缴起始年月", "欠缴截止年月", "文书类型",
               "文书号", "认定部门", "认定部门代码", "认定日期", "状态", "更新日期"])
    ws.append(["南京某某科技有限公司", "91320100MA1W3XYU55", "工伤保险", 359957.39, "2025-03", "2025-04",
               "严重失信名单认定", "宁人社失信〔2025〕1号", "南京市人力资源和社会保障局", "11320100061672951F",
               datetime(2025, 5, 24), "已补缴", "2026-01-02"])
    ws.append([None] * 13)
    ws.append(["南京某某餐饮店", "92320102MA1Q2R3T7U", "住房公积金", "1200.5", "2025-13", "2026-01",
               "限期缴纳通知", "宁公积金限缴〔2026〕2号", "南京市住房公积金管理中心", "11320100032789755D",
               "2026-10-15", "欠缴", "2026-10-15"])
    ws.append(["南京某某贸易有限公司", "91310115MA1K3BTP2B", "失业保险", 100, "2026-01", "2026-06",
               "行政处罚决定", "宁人社罚〔2026〕3号", "南京市人力资源和社会保障局", "11320100061672951F",
               "2026/10/20", "欠缴", "20261020"])
    wb.save(path)


def test_social_insurance_xlsx(warehouse_dsn, landing_root, tmp_path):
    day = date(2026, 11, 1)
    book = tmp_path / "book.xlsx"
    _arrears_workbook(book)
    deliver(landing_root, "social_insurance", day, {"social_insurance_20261101.xlsx": book})
    (f,) = ingest_delivery("social_insurance", day).files
    assert (f.encoding, f.rows_read, f.rows_loaded, f.rows_rejected) == ("xlsx", 3, 2, 1)
    ((row, codes, message, _raw),) = rejected(warehouse_dsn, f.batch_id)
    assert (row, codes) == (4, ["INVALID_YEAR_MONTH"])  # sheet row, the empty row 3 counted
    assert "欠缴起始年月" in message and "2025-13" in message
    got = query(warehouse_dsn, "select arrears_cny, arrears_from, arrears_to, decided_on, source_row"
                " from raw.social_insurance_arrears where batch_id = %s order by source_row", (f.batch_id,))
    assert got[0] == (Decimal("359957.39"), date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 24), 2)
    assert got[1][0] == Decimal("100.00") and got[1][4] == 5


def test_truncated_xlsx_fails_the_file(warehouse_dsn, landing_root, tmp_path):
    day = date(2026, 11, 2)
    book = tmp_path / "book.xlsx"
    _arrears_workbook(book)
    data = book.read_bytes()
    deliver(landing_root, "social_insurance", day, {"social_insurance_20261102.xlsx": data[: len(data) // 2]})
    with pytest.raises(IngestError, match="UNREADABLE_FILE"):
        ingest_delivery("social_insurance", day)


def test_judicial_snapshot_intervals(fresh_dsn, landing_root):
    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    deliver(landing_root, "judicial", d1, {"judicial_20261101.jsonl": FIXTURES / "judicial" / "day1.jsonl"})
    deliver(landing_root, "judicial", d2, {"judicial_20261102.jsonl": FIXTURES / "judicial" / "day2.jsonl"})
    first = ingest_delivery("judicial", d1).files[0]
    assert first.rows_loaded == 3 and "3 new" in first.message
    second = ingest_delivery("judicial", d2).files[0]
    assert "1 new, 1 changed, 1 unchanged, 1 removed" in second.message
    rows = query(fresh_dsn, "select case_code, performance, first_seen_on, last_seen_on, removed_on, batch_id"
                 " from raw.judicial_listing order by case_code, first_seen_on")
    b1, b2 = first.batch_id, second.batch_id
    assert rows == [
        ("(2025)苏0102执1号", "全部未履行", d1, d2, None, b1),   # unchanged: extended
        ("(2025)苏0102执2号", "全部未履行", d1, d1, d2, b1),     # changed: old version closed
        ("(2025)苏0102执2号", "部分未履行", d2, d2, None, b2),   # ... and a new version opened
        ("(2025)苏0104执3号", "全部未履行", d1, d1, d2, b1),     # gone from the list: removed, kept
        ("(2025)苏0105执4号", "全部未履行", d2, d2, None, b2),   # new
    ]
    # person keys are pseudonymous; organisations are keyed by USCC
    keys = dict(query(fresh_dsn, "select case_code, party_key from raw.judicial_listing"))
    assert keys["(2025)苏0102执1号"] == "91320100MA1W3XYU55" and len(keys["(2025)苏0102执2号"]) == 64
    # re-delivery of day 1's identical file is skipped; an older different snapshot is refused
    assert ingest_delivery("judicial", d1).files[0].status == "skipped"
    d0 = date(2026, 10, 31)
    older = (FIXTURES / "judicial" / "day1.jsonl").read_text(encoding="utf-8") + "\n"  # new hash
    deliver(landing_root, "judicial", d0, {"judicial_20261031.jsonl": older})
    with pytest.raises(IngestError, match="SNAPSHOT_OUT_OF_ORDER"):
        ingest_delivery("judicial", d0)
    assert len(query(fresh_dsn, "select 1 from raw.judicial_listing")) == 5


def test_loader_role_is_used(fresh_dsn, landing_root):
    """Loads run under SET LOCAL ROLE loader: revoking its insert right breaks the load."""
    day = date(2026, 11, 1)
    deliver(landing_root, "registration", day, {"registration_20261101.csv": FIXTURES / "registration" / "delta.csv"})
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("revoke insert on raw.registration from loader")
    with pytest.raises(IngestError, match=r"DATABASE_ERROR.*InsufficientPrivilege"):
        ingest_delivery("registration", day)  # recorded as a failed batch, not a traceback
