"""Hostile deliveries (issue 9, part 3): one fixture per class, each a tested behaviour.

Every test asserts the outcome a steward relies on: the reason code, that nothing is lost (every
record is loaded or quarantined, ``rows_read = loaded + rejected`` per file in
``quality.batch_manifest``, the other files of the delivery load) and that no clear personal ID
number appears outside ``restricted``. The planted IDs are collected in ``PLANTED``; the last
test runs the real GX feed gate over these batches and then searches every table outside
``restricted``, the GX results and Data Docs, the reports and ``var/`` for any of them.

Fixtures are built here from the small hand-written penalty file, so each class is one short
builder next to the test that reads it.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import psycopg
import pytest
from test_ingest_support import FIXTURES, assert_reconciled, deliver, manifest, query, rejected

from conftest import edit_xlsx_sheet
from credit_dw import config
from credit_dw.cli import main
from credit_dw.identifiers import mask_id
from credit_dw.ingest import IngestError, ingest_delivery

HEADER = ("CF_WSH,CF_XDR_MC,CF_XDR_LB,CF_XDR_SHXYM,CF_XDR_GSZC,CF_XDR_ZJLX,CF_XDR_ZJHM,CF_SY,CF_YJ,CF_CFLB,"
          "CF_NR_FK,CF_JDRQ,CF_YXQ,CF_CFJG,CF_CFJGDM,CZBS")
AUTHORITY = "南京市市场监督管理局,113201000150986026"
PERSON_ID = "320102199003071239"          # valid GB 11643, not a USCC
AMBIGUOUS_ID = "320102198506120077"       # valid GB 11643 *and* GB 32100; embedded org code invalid
AMBIGUOUS_ORGLIKE = "110101198506121699"  # valid both, embedded org code valid too
OLD_ID = "320102850612123"                # 15-digit first-generation ID (1985-06-12)
PLANTED: set[str] = {PERSON_ID, AMBIGUOUS_ID, OLD_ID}
_days = iter(date(2026, 12, 1) + timedelta(days=i) for i in range(300))


def penalty_row(n: int, *, name: str = "南京某某科技有限公司", party_type: str = "法人及非法人组织",
                uscc: str = "91320100MA1W3XYU55", facts: str = "虚假宣传", decided: str = "2026-10-30",
                id_type: str = "", id_number: str = "", tag: str = "H") -> str:
    return (f"宁{tag}罚〔2026〕{n}号,{name},{party_type},{uscc},,{id_type},{id_number},{facts},《广告法》,罚款,0.35,"
            f"{decided},2099-12-31,{AUTHORITY},I")


def penalty_csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def good_penalty(tag: str, n: int = 3) -> str:
    return penalty_csv(*(penalty_row(i, tag=tag) for i in range(1, n + 1)))


def only_file(result_or_error) -> object:
    files = result_or_error.files if hasattr(result_or_error, "files") else result_or_error.result.files
    (f,) = files
    return f


def files_by_name(error: IngestError) -> dict:
    return {f.source_file.rsplit("/", 1)[-1]: f for f in error.result.files}


def assert_no_clear_id(dsn: str, ids: set[str] = PLANTED) -> None:
    """No table outside ``restricted`` holds any of ``ids`` in the clear (any text-like column)."""
    columns = query(dsn, """
        select table_schema, table_name, column_name from information_schema.columns
        where table_schema not in ('restricted', 'pg_catalog', 'information_schema')
          and table_schema not like 'pg_%%'
          and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
          and (table_schema, table_name) in (select table_schema, table_name from information_schema.tables
                                             where table_type = 'BASE TABLE')""")
    leaks = []
    with psycopg.connect(dsn) as conn:
        for schema, table, column in columns:
            for clear in ids:
                hit = conn.execute(
                    psycopg.sql.SQL("select 1 from {} where {}::text like %s limit 1").format(
                        psycopg.sql.Identifier(schema, table), psycopg.sql.Identifier(column)),
                    (f"%{clear}%",)).fetchone()
                if hit:
                    leaks.append(f"{schema}.{table}.{column}: {mask_id(clear)}")
    assert leaks == [], leaks


# --- NUL bytes ---------------------------------------------------------------------------------

def test_nul_in_a_csv_field_rejects_the_row(warehouse_dsn, landing_root):
    day = next(_days)
    data = penalty_csv(penalty_row(1, tag="NUL"), penalty_row(2, tag="NUL", facts="虚假\x00宣传"),
                       penalty_row(3, tag="NUL")).encode()
    deliver(landing_root, "penalty", day, {"penalty_nul.csv": data})
    f = only_file(ingest_delivery("penalty", day))
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 3, 2, 1)
    ((row, codes, message, raw),) = rejected(warehouse_dsn, f.batch_id)
    assert (row, codes) == (3, ["NUL_BYTE"]) and "CF_SY" in message and "penalty_nul.csv row 3" in message
    assert "\\x00" in raw
    assert_reconciled(warehouse_dsn)


def test_nul_in_a_csv_header_fails_that_file_only(warehouse_dsn, landing_root):
    day = next(_days)
    bad = good_penalty("NULH").replace("CF_SY", "CF_\x00SY", 1).encode()
    deliver(landing_root, "penalty", day, {"penalty_a_nul.csv": bad, "penalty_b_ok.csv": good_penalty("NULOK")})
    with pytest.raises(IngestError) as err:
        ingest_delivery("penalty", day)
    files = files_by_name(err.value)
    assert files["penalty_b_ok.csv"].status == "loaded" and files["penalty_b_ok.csv"].rows_loaded == 3
    failed = manifest(warehouse_dsn, files["penalty_a_nul.csv"].batch_id)
    assert failed["status"] == "failed" and failed["message"].startswith("NO_HEADER:") and "NUL" in failed["message"]


def test_nul_in_jsonl_rejects_the_record(fresh_dsn, landing_root):
    day = date(2026, 11, 1)
    lines = (FIXTURES / "judicial" / "day1.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[1])
    entry["iname"] = "张\u0000三"
    lines[1] = json.dumps(entry, ensure_ascii=False)  # serialised as the six characters \u0000
    assert "\\u0000" in lines[1]
    deliver(landing_root, "judicial", day, {"judicial_nul.jsonl": "\n".join(lines) + "\n"})
    f = only_file(ingest_delivery("judicial", day))
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 2, 1)
    ((row, codes, message, _raw),) = rejected(fresh_dsn, f.batch_id)
    assert (row, codes) == (2, ["NUL_BYTE"]) and "iname" in message
    assert_reconciled(fresh_dsn)


# --- XLSX ---------------------------------------------------------------------------------------

def arrears_row(document: str) -> list:
    return ["南京某某科技有限公司", "91320100MA1W3XYU55", "失业保险", 100, "限期缴纳通知", document,
            "南京市人力资源和社会保障局", "11320100061672951F", "2026-10-20", "欠缴", "2026-10-20"]


def arrears_workbook(path: Path, rows: list[list]) -> None:
    """A social-insurance arrears workbook as Excel writes one (in memory, with its declared size)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["单位名称", "统一社会信用代码", "险种", "欠缴金额（元）", "文书类型", "文书号", "认定部门",
               "认定部门代码", "认定日期", "状态", "更新日期"])
    for row in rows:
        ws.append(row)
    wb.save(path)


# --- garbage XLSX ------------------------------------------------------------------------------

def test_xlsx_of_garbage_xml_fails_that_file_only(warehouse_dsn, landing_root, tmp_path):
    day = next(_days)
    good = tmp_path / "good.xlsx"
    arrears_workbook(good, [arrears_row("宁社H〔2026〕1号")])
    garbage = io.BytesIO()
    with zipfile.ZipFile(garbage, "w") as z:  # a zip with the right names and broken XML inside
        z.writestr("[Content_Types].xml", "<Types><<<not xml")
        z.writestr("xl/workbook.xml", "\x01\x02garbage")
        z.writestr("_rels/.rels", "<Relationships")
    deliver(landing_root, "social_insurance", day, {"social_insurance_a_garbage.xlsx": garbage.getvalue(),
                                                     "social_insurance_b_good.xlsx": good})
    with pytest.raises(IngestError) as err:
        ingest_delivery("social_insurance", day)
    files = files_by_name(err.value)
    assert files["social_insurance_b_good.xlsx"].rows_loaded == 1
    bad = files["social_insurance_a_garbage.xlsx"]
    assert bad.status == "failed" and bad.message.startswith("UNREADABLE_FILE:")
    assert manifest(warehouse_dsn, bad.batch_id)["status"] == "failed"


def test_xlsx_declaring_a_smaller_sheet_loses_no_row(warehouse_dsn, landing_root, tmp_path):
    """A workbook whose writer declared ``A1:C2`` (openpyxl's read-only mode would stop there)."""
    day = next(_days)
    path = tmp_path / "declared.xlsx"
    arrears_workbook(path, [arrears_row("宁社D〔2026〕1号"), arrears_row("宁社D〔2026〕2号"),
                            [*arrears_row("宁社D〔2026〕3号"), "stray cell"]])

    def declare_a1_c2(xml: bytes) -> bytes:
        assert b'<dimension ref="A1:L4"' in xml
        return xml.replace(b'<dimension ref="A1:L4"', b'<dimension ref="A1:C2"')

    edit_xlsx_sheet(path, declare_a1_c2)
    deliver(landing_root, "social_insurance", day, {"social_insurance_declared.xlsx": path})
    (f,) = ingest_delivery("social_insurance", day).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 2, 1)
    ((row, codes, message, _raw),) = rejected(warehouse_dsn, f.batch_id)
    assert (row, codes) == (4, ["MALFORMED_ROW"]) and "right of the last header column" in message
    assert query(warehouse_dsn, "select count(*) from raw.social_insurance_arrears where batch_id = %s",
                 (f.batch_id,))[0][0] == 2
    assert_reconciled(warehouse_dsn)


# --- the database fails mid-load; a missing key ------------------------------------------------

def _terminate_when_waiting(dsn: str, holder: psycopg.Connection, done: threading.Event) -> None:
    """Once a backend waits for the lock ``holder`` holds, terminate it, then release the lock."""
    with psycopg.connect(dsn, autocommit=True) as watcher:
        for _ in range(600):
            killed = watcher.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database()"
                " and wait_event_type = 'Lock' and pid <> pg_backend_pid()").fetchall()
            if killed:
                break
            time.sleep(0.05)
    holder.rollback()
    done.set()


def test_connection_lost_mid_load_is_a_failed_batch_in_one_line(warehouse_dsn, landing_root, capsys):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"penalty_dbdown.csv": good_penalty("DBX")})
    holder = psycopg.connect(warehouse_dsn)
    holder.execute("lock table raw.penalty in access exclusive mode")
    done = threading.Event()
    threading.Thread(target=_terminate_when_waiting, args=(warehouse_dsn, holder, done), daemon=True).start()
    code = main(["ingest", "penalty", "--date", day.isoformat()])
    assert done.wait(30)
    holder.close()
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert "DATABASE_ERROR" in line and "penalty_dbdown.csv" in line and "run the ingest again" in line
    (status, message), = query(warehouse_dsn, "select status, message from quality.batch_manifest"
                               " where source_file like %s", ("%penalty_dbdown.csv",))
    assert status == "failed" and message.startswith("DATABASE_ERROR:")
    # the file was not half-loaded and loads once the database is back
    f = only_file(ingest_delivery("penalty", day))
    assert (f.status, f.rows_loaded) == ("loaded", 3)


def test_missing_pii_key_is_one_line(warehouse_dsn, landing_root, capsys, monkeypatch, tmp_path):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"penalty_nokey.csv": good_penalty("NOKEY")})
    monkeypatch.delenv("CREDIT_DW_PII_KEY")
    monkeypatch.setenv("CREDIT_DW_VAR", str(tmp_path / "var"))  # no var/pii.key fallback
    assert main(["ingest", "penalty", "--date", day.isoformat()]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert "CREDIT_DW_PII_KEY is not set" in line
    assert query(warehouse_dsn, "select count(*) from quality.batch_manifest where source_file like %s",
                 ("%penalty_nokey.csv",)) == [(0,)]  # nothing started


# --- resident IDs that pass the USCC check -----------------------------------------------------

def test_resident_id_in_a_uscc_field_is_decided_by_party_type(warehouse_dsn, landing_root):
    day = next(_days)
    data = penalty_csv(
        penalty_row(1, tag="AMB", name="李四", party_type="自然人", uscc=AMBIGUOUS_ID),       # a person: rejected
        penalty_row(2, tag="AMB", party_type="法人及非法人组织", uscc=AMBIGUOUS_ORGLIKE),     # an organisation
        penalty_row(3, tag="AMB", name="王五", party_type="自然人", uscc="", id_type="01", id_number=AMBIGUOUS_ID),
    )
    deliver(landing_root, "penalty", day, {"penalty_ambiguous.csv": data})
    f = only_file(ingest_delivery("penalty", day))
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 2, 1)
    ((row, codes, message, raw),) = rejected(warehouse_dsn, f.batch_id)
    assert (row, codes) == (2, ["PERSON_ID_AS_USCC"]) and "CF_XDR_SHXYM" in message
    assert mask_id(AMBIGUOUS_ID) in message and AMBIGUOUS_ID not in message + raw
    loaded = query(warehouse_dsn, "select source_row, party_uscc, party_id_masked from raw.penalty"
                   " where batch_id = %s order by source_row", (f.batch_id,))
    assert loaded == [(3, AMBIGUOUS_ORGLIKE, None), (4, None, mask_id(AMBIGUOUS_ID))]
    assert query(warehouse_dsn, "select count(*) from restricted.person_identity where id_number = %s",
                 (AMBIGUOUS_ID,)) == [(1,)]


def test_taxpayer_number_that_is_a_resident_id_is_pseudonymised(warehouse_dsn, landing_root):
    """Tax ratings carry no party type: register membership and the embedded org code decide."""
    day = next(_days)
    text = ("NSRSBH,NSRMC,PJND,XYJB,PJRQ\n"
            f"{AMBIGUOUS_ID},南京某某个体户,2025,B,2026-04-22\n"         # not registered, org code invalid
            f"{AMBIGUOUS_ORGLIKE},北京某某有限公司,2025,A,2026-04-22\n")  # embedded org code valid: a USCC
    deliver(landing_root, "tax", day, {"nsxy_ambiguous.csv": text.encode("gb18030")})
    f = only_file(ingest_delivery("tax", day))
    assert (f.rows_read, f.rows_loaded) == (2, 2)
    rows = query(warehouse_dsn, "select taxpayer_number, taxpayer_uscc from raw.tax_rating where batch_id = %s"
                 " order by source_row", (f.batch_id,))
    assert rows[0][1] is None and len(rows[0][0]) == 64  # the HMAC, never the number
    assert rows[1] == (AMBIGUOUS_ORGLIKE, AMBIGUOUS_ORGLIKE)


def test_registered_code_stays_a_uscc(warehouse_dsn, landing_root):
    """The register is authoritative; a code it carries is an organisation in every other feed."""
    day = next(_days)
    reg = ("TYSHXYDM,ZTMC,ZTLX,ZCH,ZZJGDM,FDDBR,CLRQ,DJJG,ZS,DJZT,ZXRQ,GXSJ\n"
           f"{AMBIGUOUS_ID},南京某某登记有限公司,企业,,,王五,2018-05-04,南京市市场监督管理局,南京市,存续,,"
           f"{day} 09:00:00\n")
    deliver(landing_root, "registration", day, {"registration_ambiguous.csv": reg})
    assert only_file(ingest_delivery("registration", day)).rows_loaded == 1
    day2 = next(_days)
    deliver(landing_root, "tax", day2, {"nsxy_registered.csv": (
        f"NSRSBH,NSRMC,PJND,XYJB,PJRQ\n{AMBIGUOUS_ID},南京某某登记有限公司,2025,B,2026-04-22\n").encode("gb18030")})
    f = only_file(ingest_delivery("tax", day2))
    assert query(warehouse_dsn, "select taxpayer_uscc from raw.tax_rating where batch_id = %s",
                 (f.batch_id,)) == [(AMBIGUOUS_ID,)]
    PLANTED.discard(AMBIGUOUS_ID)  # now legitimately an organisation's code in raw tables


def test_judicial_person_card_number_is_masked_even_when_it_passes_gb32100(fresh_dsn, landing_root):
    day = date(2026, 11, 1)
    entry = json.loads((FIXTURES / "judicial" / "day1.jsonl").read_text(encoding="utf-8").splitlines()[1])
    entry.update(cardNum="320102198506120077", partyType="自然人", duty=f"偿还借款，身份证{PERSON_ID}")
    deliver(landing_root, "judicial", day, {"judicial_amb.jsonl": json.dumps(entry, ensure_ascii=False) + "\n"})
    f = only_file(ingest_delivery("judicial", day))
    assert f.rows_loaded == 1
    (card, uscc, duty), = query(fresh_dsn, "select card_num, party_uscc, duty from raw.judicial_listing")
    assert (card, uscc) == (mask_id("320102198506120077"), None) and mask_id(PERSON_ID) in duty
    assert_no_clear_id(fresh_dsn, {"320102198506120077", PERSON_ID})


# --- IDs in messages and free text -------------------------------------------------------------

def test_header_less_file_does_not_echo_its_first_row(warehouse_dsn, landing_root):
    day = next(_days)
    person = penalty_row(1, name="张三", party_type="自然人", uscc="", id_type="01", id_number=PERSON_ID, tag="NOH")
    distinct = f"宁NOH罚〔2026〕9号,张三,自然人,{PERSON_ID},2026-10-30,{AUTHORITY},I"  # looks like names
    deliver(landing_root, "penalty", day, {
        "penalty_headerless_a.csv": "\n".join([person, penalty_row(2, tag="NOH")]) + "\n",  # empty cells
        "penalty_headerless_b.csv": distinct + "\n" + penalty_row(3, tag="NOH") + "\n",
    })
    with pytest.raises(IngestError) as err:
        ingest_delivery("penalty", day)
    files = files_by_name(err.value)
    messages = {name: manifest(warehouse_dsn, f.batch_id)["message"] for name, f in files.items()}
    assert messages["penalty_headerless_a.csv"].startswith("NO_HEADER:")
    assert messages["penalty_headerless_b.csv"].startswith("UNKNOWN_FIELD_SET:")
    assert "lacks" in messages["penalty_headerless_b.csv"]
    for name, message in messages.items():
        assert name in message and "field-code header" in message
        for leaked in (PERSON_ID, mask_id(PERSON_ID), "张三", "宁NOH罚"):
            assert leaked not in message + str(err.value)


def test_ids_in_free_text_fields_are_masked_in_every_feed(warehouse_dsn, landing_root):
    day = next(_days)
    facts = f"当事人张三（身份证号{PERSON_ID}，旧证{OLD_ID}）虚假宣传"
    deliver(landing_root, "penalty", day, {"penalty_freetext.csv": penalty_csv(
        penalty_row(1, tag="FT", facts=facts), penalty_row(2, tag="FT", name=f"张三{PERSON_ID}"))})
    deliver(landing_root, "tax", day, {"zdsswf_freetext.csv": (
        "NSRSBH,NSRMC,ZCDZ,FDDBR_XM,FDDBR_XB,FDDBR_ZJHM,AJXZ,ZYWFSS,CLCFQK,WSH,SWJG,SWJGDM,GBRQ,CCRQ,ZT\n"
        f"91320100MA1W3XYU55,南京某某科技有限公司,南京市{OLD_ID}号,王五,男,,偷税,法定代表人{PERSON_ID}少缴税款。,"
        f"处以罚款。,宁税FT〔2026〕1号,国家税务总局南京市税务局,13201000000,2026-10-06,,公布中\n").encode("gb18030")})
    deliver(landing_root, "registration", day, {"registration_freetext.csv": (
        "TYSHXYDM,ZTMC,ZTLX,ZCH,ZZJGDM,FDDBR,CLRQ,DJJG,ZS,DJZT,ZXRQ,GXSJ\n"
        f"91320100MA1W3XYU55,南京某某科技有限公司,企业,,,王五 {PERSON_ID},2018-05-04,南京市市场监督管理局,"
        f"住址{OLD_ID},存续,,{day} 10:00:00\n")})
    for feed in ("penalty", "tax", "registration"):
        assert ingest_delivery(feed, day).ok
    facts_stored = query(warehouse_dsn, "select facts, party_name from raw.penalty where source_file like %s"
                         " order by source_row", ("%penalty_freetext.csv",))
    assert mask_id(PERSON_ID) in facts_stored[0][0] and mask_id(OLD_ID) in facts_stored[0][0]
    assert facts_stored[1][1] == f"张三{mask_id(PERSON_ID)}"
    assert_no_clear_id(warehouse_dsn)


def test_old_15_digit_id_is_masked_in_quarantine(warehouse_dsn, landing_root):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"penalty_old_id.csv": penalty_csv(
        penalty_row(1, tag="OLD"), penalty_row(2, tag="OLD", facts=f"旧身份证{OLD_ID}", decided="2026-02-30"))})
    f = only_file(ingest_delivery("penalty", day))
    ((_row, codes, message, raw),) = rejected(warehouse_dsn, f.batch_id)
    assert codes == ["INVALID_DATE"] and mask_id(OLD_ID) in raw and OLD_ID not in raw + message


# --- files: links, sub-folders, changes --------------------------------------------------------

def test_symlinks_are_refused_without_reading_them(warehouse_dsn, landing_root, tmp_path):
    day = next(_days)
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(penalty_csv(penalty_row(1, tag="SECRET", facts=f"机密{PERSON_ID}")), encoding="utf-8")
    folder = deliver(landing_root, "penalty", day, {"penalty_ok.csv": good_penalty("LNKOK")}, done=False)
    (folder / "penalty_link.csv").symlink_to(secret)
    (folder / "penalty_dirlink").symlink_to(secret.parent, target_is_directory=True)
    (folder / "_DONE").touch()
    with pytest.raises(IngestError) as err:
        ingest_delivery("penalty", day)
    files = files_by_name(err.value)
    assert files["penalty_ok.csv"].rows_loaded == 3
    for name in ("penalty_link.csv", "penalty_dirlink"):
        row = manifest(warehouse_dsn, files[name].batch_id)
        assert row["status"] == "failed" and row["message"].startswith("SYMLINK:")
        assert "outside the landing root" in row["message"]
        assert "SECRET" not in row["message"] and "secret" not in row["message"]
    assert query(warehouse_dsn, "select count(*) from raw.penalty where decision_number like %s",
                 ("%SECRET%",)) == [(0,)]


def test_sub_folder_is_reported_not_ignored(warehouse_dsn, landing_root):
    day = next(_days)
    folder = deliver(landing_root, "penalty", day, {"penalty_top.csv": good_penalty("SUBTOP")})
    (folder / "more").mkdir()
    (folder / "more" / "penalty_nested.csv").write_text(good_penalty("SUBNEST"), encoding="utf-8")
    with pytest.raises(IngestError, match="SUB_FOLDER") as err:
        ingest_delivery("penalty", day)
    files = files_by_name(err.value)
    assert files["penalty_top.csv"].rows_loaded == 3
    sub = manifest(warehouse_dsn, files["more"].batch_id)
    assert sub["status"] == "failed" and "more/" in sub["message"] and "1 file(s)" in sub["message"]


def _append_while_blocked(dsn: str, lock_sql: str, path: Path, extra: str) -> threading.Thread:
    """Hold ``lock_sql`` until a loader waits for it, append to ``path``, then release."""
    holder = psycopg.connect(dsn)
    holder.execute(lock_sql)

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as watcher:
            for _ in range(600):
                if watcher.execute("select 1 from pg_stat_activity where datname = current_database()"
                                   " and wait_event_type = 'Lock'").fetchone():
                    break
                time.sleep(0.05)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(extra)
        holder.rollback()
        holder.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("lock_sql", [
    "lock table raw.penalty in access exclusive mode",              # before the rows are stored
    "lock table restricted.person_identity in exclusive mode",      # after, before commit
])
def test_file_changed_during_load_is_refused_then_loads_once(warehouse_dsn, landing_root, lock_sql):
    day = next(_days)
    tag = "CHG" + str(day.day)
    person = penalty_row(3, tag=tag, name="李四", party_type="自然人", uscc="", id_type="01", id_number=PERSON_ID)
    folder = deliver(landing_root, "penalty", day, {"penalty_growing.csv": penalty_csv(
        penalty_row(1, tag=tag), penalty_row(2, tag=tag), person)})
    path = folder / "penalty_growing.csv"
    thread = _append_while_blocked(warehouse_dsn, lock_sql, path, penalty_row(4, tag=tag) + "\n")
    with pytest.raises(IngestError) as err:
        ingest_delivery("penalty", day)
    thread.join(30)
    f = only_file(err.value)
    row = manifest(warehouse_dsn, f.batch_id)
    assert row["status"] == "failed" and row["message"].startswith("FILE_CHANGED:")
    again = only_file(ingest_delivery("penalty", day))
    assert (again.status, again.rows_read, again.rows_loaded) == ("loaded", 4, 4)
    assert query(warehouse_dsn, "select count(*) from raw.penalty where decision_number like %s",
                 (f"宁{tag}罚%",)) == [(4,)]  # every row exactly once


# --- records -----------------------------------------------------------------------------------

def test_stray_quote_costs_only_its_own_line(warehouse_dsn, landing_root):
    day = next(_days)
    rows = [penalty_row(i, tag="SQ") for i in range(1, 7)]
    rows[1] = rows[1].replace("虚假宣传", '5"寸屏虚假宣传')    # line 3: a stray quote
    rows[4] = rows[4].replace("虚假宣传", '虚假"宣传')         # line 6: another, pairing with it
    deliver(landing_root, "penalty", day, {"penalty_stray.csv": penalty_csv(*rows)})
    f = only_file(ingest_delivery("penalty", day))
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (6, 4, 2)
    bad = rejected(warehouse_dsn, f.batch_id)
    assert [(r[0], r[1]) for r in bad] == [(3, ["MALFORMED_ROW"]), (6, ["MALFORMED_ROW"])]
    assert "\n" not in bad[0][3]  # only its own line is quarantined
    assert query(warehouse_dsn, "select source_row from raw.penalty where batch_id = %s order by 1",
                 (f.batch_id,)) == [(2,), (4,), (5,), (7,)]
    assert_reconciled(warehouse_dsn)


def test_long_quoted_multiline_field_is_one_record(warehouse_dsn, landing_root):
    day = next(_days)
    long_facts = '"' + "\n".join(f"第{i}项事实" for i in range(600)) + '"'
    deliver(landing_root, "penalty", day, {"penalty_long.csv": penalty_csv(
        penalty_row(1, tag="LONG"), penalty_row(2, tag="LONG", facts=long_facts), penalty_row(3, tag="LONG"))})
    f = only_file(ingest_delivery("penalty", day))
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 3, 0)  # records, not 602 lines
    assert query(warehouse_dsn, "select source_row, length(facts) > 3000 from raw.penalty where batch_id = %s"
                 " order by 1", (f.batch_id,)) == [(2, False), (3, True), (603, False)]


# --- values ------------------------------------------------------------------------------------

def test_decision_date_after_delivery_has_its_own_reason(warehouse_dsn, landing_root):
    day = next(_days)
    deliver(landing_root, "penalty", day, {"penalty_future.csv": penalty_csv(
        penalty_row(1, tag="FUT"), penalty_row(2, tag="FUT", decided="2030-01-15"),
        penalty_row(3, tag="FUT", decided=day.isoformat()))})
    f = only_file(ingest_delivery("penalty", day))
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 2, 1)
    ((row, codes, message, _raw),) = rejected(warehouse_dsn, f.batch_id)
    assert (row, codes) == (3, ["DATE_AFTER_DELIVERY"])
    assert "CF_JDRQ" in message and "2030-01-15" in message and day.isoformat() in message


# --- a corrected judicial snapshot -------------------------------------------------------------

_INTERVALS = ("select case_code, party_key, list_type, content_hash, first_seen_on, last_seen_on, removed_on"
              " from raw.judicial_listing order by 1, 2, 3, 5")


def _snapshots(landing_root: Path, days: list[tuple[date, str, str]]) -> None:
    for day, name, text in days:
        deliver(landing_root, "judicial", day, {name: text})
        ingest_delivery("judicial", day)


def test_corrected_snapshot_replaces_the_wrong_one_exactly(fresh_dsn, landing_root, tmp_path):
    from conftest import create_fresh_database, drop_database

    d1, d2, d3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    day1 = (FIXTURES / "judicial" / "day1.jsonl").read_text(encoding="utf-8")
    day2 = (FIXTURES / "judicial" / "day2.jsonl").read_text(encoding="utf-8")
    newcomer = json.loads(day1.splitlines()[0])
    newcomer["caseCode"] = "（2026）苏0102执99号"
    day3 = day2 + json.dumps(newcomer, ensure_ascii=False) + "\n"
    truncated = day3.splitlines()[0] + "\n"
    _snapshots(landing_root, [(d1, "judicial_1.jsonl", day1), (d2, "judicial_2.jsonl", day2),
                              (d3, "judicial_3.jsonl", truncated)])
    assert query(fresh_dsn, "select count(*) from raw.judicial_listing where removed_on = %s", (d3,))[0][0] >= 2
    folder = landing_root / "judicial" / d3.isoformat()
    (folder / "judicial_3.jsonl").write_text(day3, encoding="utf-8")  # the department re-delivers it whole
    (fixed,) = ingest_delivery("judicial", d3).files
    assert fixed.status == "loaded" and "replaces batch" in fixed.message
    got = query(fresh_dsn, _INTERVALS)

    expected_dsn = create_fresh_database()  # the same days, never wrong
    try:
        os.environ["WAREHOUSE_DSN"] = expected_dsn
        other = tmp_path / "landing2"
        for day, name, text in [(d1, "judicial_1.jsonl", day1), (d2, "judicial_2.jsonl", day2),
                                (d3, "judicial_3.jsonl", day3)]:
            deliver(other, "judicial", day, {name: text})
            ingest_delivery("judicial", day, dsn=expected_dsn, landing_root=other)
        assert got == query(expected_dsn, _INTERVALS)
    finally:
        os.environ["WAREHOUSE_DSN"] = fresh_dsn
        drop_database(expected_dsn)
    statuses = query(fresh_dsn, "select status, rows_read = rows_loaded + rows_rejected from quality.batch_manifest"
                     " where delivery_date = %s order by batch_id", (d3,))
    assert statuses == [("superseded", True), ("loaded", True)]


# --- nothing anywhere --------------------------------------------------------------------------

def test_no_clear_id_outside_restricted_after_the_feed_gate(warehouse_dsn, tmp_path_factory, monkeypatch):
    """Runs last: the GX feed gate over every hostile batch, then every table and file is searched."""
    from credit_dw.quality import gate

    gx_root = tmp_path_factory.getbasetemp() / "gx_hostile"
    monkeypatch.setenv("CREDIT_DW_GX_ROOT", str(gx_root))
    batches = [b for (b,) in query(warehouse_dsn, "select batch_id from quality.batch_manifest"
                                                  " where status = 'loaded' and delivery_date >= '2026-12-01'")]
    gate.validate_feeds("hostile", batches)
    assert list(gx_root.rglob("validations/raw_penalty/**/*.json"))  # results and Data Docs were written
    assert list(gx_root.rglob("data_docs/**/raw_penalty/**/*.html"))
    assert_reconciled(warehouse_dsn)
    assert_no_clear_id(warehouse_dsn)
    roots = [gx_root, Path(os.environ["CREDIT_DW_REPORTS"]), config.var_dir()]
    leaks = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            if not path.is_file() or "pg" in path.relative_to(root).parts[:1] or path.stat().st_size > 50 << 20:
                continue  # var/pg is the database's own storage (restricted lives there)
            data = path.read_bytes()
            leaks += [f"{path}: {mask_id(i)}" for i in PLANTED if i.encode() in data]
    assert leaks == []
