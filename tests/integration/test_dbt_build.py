"""The dbt project built end to end on a fresh warehouse with a few hand-written raw rows.

Two "nights" of deliveries go into the raw tables (as the loader would leave them), dbt builds
after each, then a full refresh of the same data must give exactly the incremental result. The
marts are then checked for what the issue promises: statuses over time, the publication rules,
no clear personal ID in public_disclosure, and least privilege for analysts.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from hashlib import sha256
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from credit_dw import db
from credit_dw.dbt import DBT_PROJECT_DIR, run_dbt
from credit_dw.feeds.dbt_files import record_models
from credit_dw.identifiers import is_valid_resident_id, mask_id

pytestmark = pytest.mark.slow

NIGHT_1 = date(2026, 11, 1)
NIGHT_2 = date(2026, 11, 20)

ORG_A = "91320102MA1K3BTP2L"  # registered, later renamed; dishonest judgment debtor, tax rating A
ORG_B = "913202111357924635"  # registered with a legacy registration number
ORG_C = "92320583MA2PBMEM21"  # individual business, penalised by organisation code only
ORG_D = "91320106246813570M"  # not in the register, penalised by USCC
ORG_E = "91320104MA3Q7WX523"  # registered on night 2 only: resolves a penalty delivered on night 1
REGNO_E = "320102400000777"
ORG_F = "91320105MA4R8XY68J"  # not in the register; its only record passes retention between the nights
REGNO_B = "320102400000120"
PERSON_ID = "320102198503151230"  # a natural person's clear ID: must never reach a mart
PERSON_HASH = hmac.new(b"test", PERSON_ID.encode(), sha256).hexdigest()
JUDICIAL_PERSON_KEY = hmac.new(b"test", "3201**********1230|王某".encode(), sha256).hexdigest()


def _manifest(conn: psycopg.Connection, feed: str, day: date, name: str) -> int:
    return conn.execute(
        "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
        " status, started_at, rows_read, rows_loaded) values (%s, %s, %s, 1, md5(%s), 'loaded', now(), 0, 0)"
        " returning batch_id",
        (feed, day, f"{feed}/{day}/{name}", f"{feed}{day}{name}"),
    ).fetchone()[0]


def _insert(conn: psycopg.Connection, table: str, batch_id: int, rows: list[dict]) -> None:
    for number, row in enumerate(rows, start=1):
        row = {**row, "batch_id": batch_id, "source_file": f"{table}.file", "source_row": number}
        columns = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        conn.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def _registration(uscc: str, name: str, updated: str, **extra) -> dict:
    return {"uscc": uscc, "name": name, "subject_type": "企业", "status": "存续",
            "updated_at": updated, "founded_on": "2015-03-01", **extra}


def _penalty(number: str, decided: str, types: list[str], op: str = "I", **party) -> dict:
    return {"authority_code": "11320100MB0000000X", "decision_number": number, "operation": op,
            "field_set": "current", "party_name": party.pop("party_name", "某某公司"),
            "penalty_types": types, "decided_on": decided, "authority_name": "南京市市场监督管理局",
            "content": "罚款", **party}


def load_night_1(conn: psycopg.Connection) -> None:
    b = _manifest(conn, "registration", NIGHT_1, "reg.csv")
    _insert(conn, "raw.registration", b, [
        _registration(ORG_A, "南京甲科技有限公司", "2026-10-30 09:00"),
        _registration(ORG_B, "无锡乙制造有限公司", "2026-10-30 09:00", registration_number=REGNO_B),
        _registration(ORG_C, "昆山丙商店", "2026-10-30 09:00", subject_type="个体工商户"),
    ])
    b = _manifest(conn, "penalty", NIGHT_1, "penalty.csv")
    _insert(conn, "raw.penalty", b, [
        # serious, Order 58 (3 months to 3 years): published until 2028-05-31
        _penalty("宁市监罚〔2025〕1号", "2025-06-01", ["罚款", "吊销许可证件"], party_uscc=ORG_A),
        # ordinary, by registration number only; a repair is approved on night 2
        _penalty("宁市监罚〔2024〕7号", "2024-01-10", ["罚款"], party_registration_number=REGNO_B),
        # by organisation code only (USCC positions 9-17); corrected on night 2
        _penalty("宁市监罚〔2026〕3号", "2026-06-01", ["罚款"], party_organisation_code=ORG_C[8:17]),
        # warning only: never published
        _penalty("宁市监罚〔2026〕4号", "2026-07-01", ["警告"], party_uscc=ORG_D),
        # minor under Order 36: not published
        _penalty("宁市监罚〔2026〕5号", "2026-07-02", ["通报批评"], party_uscc=ORG_D),
        # 2019 rule, ordinary: publicity ended 2023-02-28 (expired, still retained)
        _penalty("宁市监罚〔2022〕9号", "2022-03-01", ["罚款"], party_uscc=ORG_D),
        # past retention (publicity ended 2015, +5 years): never reaches the marts
        _penalty("宁市监罚〔2015〕1号", "2015-01-05", ["罚款"], party_uscc=ORG_D),
        # a natural person, ID as the loader leaves it: keyed hash + mask, free text leaking it
        _penalty("宁市监罚〔2026〕6号", "2026-08-01", ["罚款"], party_name="张某", party_type="自然人",
                 party_id_type="01", party_id_hash=PERSON_HASH, party_id_masked=mask_id(PERSON_ID),
                 content=f"当事人身份证号{PERSON_ID}罚款"),
        # unresolvable: registration number not in the register
        _penalty("宁市监罚〔2026〕8号", "2026-08-02", ["罚款"], party_registration_number="320102400009999"),
        # 2019 rule, ordinary: published until 2021-11-09, retained until 2026-11-10 (between the nights)
        _penalty("宁市监罚〔2020〕5号", "2020-11-10", ["罚款"], party_uscc=ORG_F),
        # registration number unknown tonight; the register learns it on night 2 (no new penalty row)
        _penalty("宁市监罚〔2026〕11号", "2026-08-03", ["罚款"], party_registration_number=REGNO_E),
        # to be revoked on night 2
        _penalty("宁市监罚〔2026〕10号", "2026-09-01", ["罚款"], party_uscc=ORG_B),
    ])
    b = _manifest(conn, "judicial", NIGHT_1, "judicial.jsonl")
    _insert(conn, "raw.judicial_listing", b, [
        {"case_code": "（2025）苏0102执1234号", "party_key": ORG_A, "list_type": "dishonest",
         "content_hash": "h1", "party_name": "南京甲科技有限公司", "card_num": ORG_A, "party_uscc": ORG_A,
         "party_type": "法人", "court_name": "南京市玄武区人民法院", "disrupt_type": "有履行能力而拒不履行",
         "published_on": "2025-10-01", "first_seen_on": "2026-10-01", "last_seen_on": str(NIGHT_1)},
        {"case_code": "（2025）苏0102执2000号", "party_key": JUDICIAL_PERSON_KEY, "list_type": "restricted",
         "content_hash": "h2", "party_name": "王某", "card_num": "3201**********1230",
         "party_type": "自然人", "court_name": "南京市玄武区人民法院",
         "published_on": "2025-12-01", "first_seen_on": "2026-10-01", "last_seen_on": str(NIGHT_1)},
    ])
    b = _manifest(conn, "tax", NIGHT_1, "zdsswf.csv")
    _insert(conn, "raw.tax_violation", b, [
        {"authority_code": "11320000MB1111111X", "decision_number": "苏税稽罚〔2025〕1号",
         "taxpayer_number": ORG_C, "taxpayer_uscc": ORG_C, "name": "昆山丙商店", "case_nature": "偷税",
         "published_on": "2025-01-15", "status": "公布中"},
    ])
    b = _manifest(conn, "tax", NIGHT_1, "nsxy.csv")
    _insert(conn, "raw.tax_rating", b, [
        {"taxpayer_number": ORG_A, "taxpayer_uscc": ORG_A, "name": "南京甲科技有限公司",
         "rating_year": 2025, "rating_level": "A", "rated_on": "2026-04-15"},
        {"taxpayer_number": ORG_B, "taxpayer_uscc": ORG_B, "name": "无锡乙制造有限公司",
         "rating_year": 2025, "rating_level": "D", "rated_on": "2026-04-15"},
    ])
    b = _manifest(conn, "social_insurance", NIGHT_1, "arrears.xlsx")
    _insert(conn, "raw.social_insurance_arrears", b, [
        {"unit_name": "无锡乙制造有限公司", "uscc": ORG_B, "insurance_type": "失业保险", "arrears_cny": 12000,
         "document_type": "严重失信名单认定", "document_number": "锡人社认〔2026〕1号",
         "department_code": "11320200MB2222222X", "decided_on": "2026-01-10", "status": "欠缴",
         "updated_on": "2026-01-10"},
        {"unit_name": "南京甲科技有限公司", "uscc": ORG_A, "insurance_type": "工伤保险", "arrears_cny": 800,
         "document_type": "限期缴纳通知", "document_number": "宁人社通〔2026〕2号",
         "department_code": "11320100MB3333333X", "decided_on": "2026-03-01", "status": "欠缴",
         "updated_on": "2026-03-01"},
    ])
    b = _manifest(conn, "commitment", NIGHT_1, "commitment.csv")
    _insert(conn, "raw.commitment", b, [
        {"acceptor_code": "113201000150986026", "commitment_number": "CN-2026-1", "party_key": ORG_D,
         "party_name": "某某公司", "party_type": "法人及非法人组织", "party_uscc": ORG_D,
         "commitment_type": "审批替代型",
         "content": "承诺符合许可条件", "acceptor_name": "南京市市场监督管理局", "committed_on": "2026-06-01",
         "fulfilment_status": "已履约", "updated_at": "2026-10-30 10:00"},
    ])


def load_night_2(conn: psycopg.Connection) -> None:
    b = _manifest(conn, "registration", NIGHT_2, "reg.csv")
    _insert(conn, "raw.registration", b, [
        _registration(ORG_A, "南京甲智能科技有限公司", "2026-11-19 10:00"),
        _registration(ORG_E, "南京戊贸易有限公司", "2026-11-19 11:00", registration_number=REGNO_E),
    ])
    b = _manifest(conn, "penalty", NIGHT_2, "penalty.csv")
    _insert(conn, "raw.penalty", b, [
        _penalty("宁市监罚〔2026〕3号", "2026-06-01", ["罚款"], op="U", party_organisation_code=ORG_C[8:17],
                 content="罚款（更正）"),
        _penalty("宁市监罚〔2026〕10号", "2026-09-01", ["罚款"], op="D", party_uscc=ORG_B),
    ])
    # tomorrow's judicial snapshot no longer carries the person's entry: removed, not deleted
    _manifest(conn, "judicial", NIGHT_2, "judicial.jsonl")
    conn.execute(
        "update raw.judicial_listing set removed_on = %s where party_key = %s", (NIGHT_2, JUDICIAL_PERSON_KEY)
    )
    conn.execute(
        "update raw.judicial_listing set last_seen_on = %s where removed_on is null", (NIGHT_2,)
    )


def record_id(feed: str, *parts: str) -> str:
    import hashlib

    return hashlib.md5("|".join([feed, *parts]).encode()).hexdigest()


AUTHORITY = "11320100MB0000000X"


def add_governance(conn: psycopg.Connection) -> None:
    """A repair approved with effect on night 2 and an objection still pending (cases, V060)."""
    repair = conn.execute(
        "insert into governance.case_intake (case_type, record_id, received_on, applicant, basis, opened_by)"
        " values ('repair', %s, %s, '无锡乙制造有限公司', '已履行', 'steward1') returning case_id",
        (record_id("penalty", AUTHORITY, "宁市监罚〔2024〕7号"), NIGHT_2),
    ).fetchone()[0]
    conn.execute(
        "insert into governance.case_event (case_id, event, occurred_on, recorded_by, decision, reasons, effective_on)"
        " values (%s, 'decided', %s, 'steward1', 'approved', '已履行', %s)",
        (repair, NIGHT_2, NIGHT_2),
    )
    conn.execute(
        "insert into governance.case_intake (case_type, record_id, received_on, applicant, basis, opened_by)"
        " values ('objection', %s, %s, '南京甲科技有限公司', '主体异议', 'steward1')",
        (record_id("penalty", AUTHORITY, "宁市监罚〔2025〕1号"), NIGHT_2),
    )


@contextmanager
def private_warehouse(prefix: str) -> Iterator[str]:
    """A migrated database of the module's own: exact expectations need nobody else's raw rows."""
    dsn = make_conninfo(db.ensure_server(), dbname=f"{prefix}_{secrets.token_hex(4)}")
    db.ensure_database(dsn)
    db.migrate(dsn)
    try:
        yield dsn
    finally:
        with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
            name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def dbt_dsn() -> Iterator[str]:
    with private_warehouse("credit_dw_test_dbt") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A private target/log path, so tests never overwrite the project's shared manifest."""
    base = tmp_path_factory.mktemp("dbt")
    return ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]


def build(dsn: str, flags: list[str], as_of: date, *extra: str) -> None:
    """A build as the pipeline runs it: the as-of day in the environment (``run_dbt(as_of=…)``)."""
    run_dbt(["build", *flags, *extra], dsn=dsn, as_of=as_of)


def a_day_passes(dsn: str) -> None:
    """The test's nights are seconds apart: move the loaded batches two days back, as if they had
    been delivered on earlier nights, as in production (the change set takes each batch once,
    whatever its time, so nothing depends on it)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("update quality.batch_manifest set started_at = started_at - interval '2 days',"
                     " finished_at = finished_at - interval '2 days'")


def rows(dsn: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


# When a row was written and the as-of date it was last evaluated for: they differ between an
# incremental and a full build by design (an incremental night rewrites only rows that change).
WRITE_METADATA = ("built_at", "status_as_of", "disclosed_as_of", "profile_as_of", "list_as_of",
                  "previous_subject_key", "changed_at", "as_of", "evidence_as_of")


def incremental_tables(dsn: str) -> dict[str, str]:
    """Every table dbt builds incrementally or as a table, with its columns minus WRITE_METADATA."""
    found = rows(dsn, """
        select table_schema || '.' || table_name,
               string_agg(quote_ident(column_name), ', ' order by ordinal_position)
        from information_schema.columns
        join information_schema.tables using (table_schema, table_name)
        where table_schema in ('intermediate', 'marts_candidate') and table_type = 'BASE TABLE'
          and column_name <> all(%s)
        group by 1""", list(WRITE_METADATA))
    return dict(found)


def keep_incremental_copies(dsn: str, night: str = "incremental") -> None:
    """Copy every built table to ``public.<night>__<schema>__<table>`` before a full refresh."""
    with psycopg.connect(dsn) as conn:
        for table, columns in incremental_tables(dsn).items():
            conn.execute(f"create table {_copy_of(table, night)} as select {columns} from {table}")


def _copy_of(table: str, night: str = "incremental") -> str:
    return f"public.{night}__" + table.replace(".", "__")


def differences(dsn: str, table: str, night: str = "incremental",
                full: str | None = None) -> tuple[list[tuple], list[tuple]]:
    """Rows only in the incremental copy of ``night``, rows only in the full refresh: the table
    itself, or its copy named ``full`` when later builds have moved on."""
    columns = incremental_tables(dsn)[table]
    copy = _copy_of(table, night)
    reference = _copy_of(table, full) if full else table
    return (rows(dsn, f"select {columns} from {copy} except all select {columns} from {reference}"),
            rows(dsn, f"select {columns} from {reference} except all select {columns} from {copy}"))


# every feed's record table (the by_feed folder), then the shared tables
BUILT_TABLES = [
    *(f"intermediate.{name}" for name in record_models(DBT_PROJECT_DIR)),
    "intermediate.int_registration__latest",
    "intermediate.int_subject__identifier_map", "intermediate.int_credit_record__lifecycle",
    "marts_candidate.fct_credit_record", "marts_candidate.dim_credit_subject",
    "marts_candidate.dim_credit_subject_history",
    "marts_candidate.subject_credit_profile", "marts_candidate.public_disclosure",
    "marts_candidate.joint_discipline_list", "marts_candidate.unresolved_subject_records",
    "marts_candidate.register_anomalies", "marts_candidate.subject_grade_evidence",
    # the change set's record calendar: every record's next status-change date and whether it is
    # in the fact (the other change-set tables list what a build found changed, by design less
    # than a full refresh's "everything")
    "intermediate.int_night__status_calendar",
]


REWRITE_TRACKED = ("intermediate.int_registration__records", "intermediate.int_penalty__records",
                   "intermediate.int_credit_record__lifecycle", "marts_candidate.fct_credit_record")


SUBJECT_MARTS = ("marts_candidate.dim_credit_subject", "marts_candidate.subject_credit_profile")


def build_two_nights(dsn: str, flags: list[str]) -> None:
    """Night 1 delivered and built; a day later night 2 (deliveries, stewards' decisions) built."""
    with psycopg.connect(dsn) as conn:
        load_night_1(conn)
    build(dsn, flags, NIGHT_1)
    a_day_passes(dsn)
    with psycopg.connect(dsn) as conn:
        load_night_2(conn)
        add_governance(conn)
    build(dsn, flags, NIGHT_2)


@pytest.fixture(scope="module")
def built(dbt_dsn: str, dbt_target: list[str]) -> str:
    """Night 1 build, night 2 incremental build, then a full refresh: ``public`` keeps a copy of
    every table as the incremental build left it, for comparison."""
    warehouse_dsn = dbt_dsn
    build_two_nights(warehouse_dsn, dbt_target)
    keep_incremental_copies(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("create table public.rewritten (table_name text, record_id text)")
        for table in REWRITE_TRACKED:
            conn.execute(f"insert into public.rewritten select %s, record_id from {table}"
                         f" where built_at = (select max(built_at) from {table})", (table,))
        for table in SUBJECT_MARTS:
            conn.execute(f"insert into public.rewritten select %s, subject_key from {table}"
                         f" where built_at = (select max(built_at) from {table})", (table,))
    build(warehouse_dsn, dbt_target, NIGHT_2, "--full-refresh")
    return warehouse_dsn


@pytest.mark.parametrize("table", BUILT_TABLES)
def test_incremental_equals_full_refresh(built: str, table: str) -> None:
    assert differences(built, table) == ([], [])
    assert rows(built, f"select count(*) from {_copy_of(table)}")[0][0] > 0


def test_the_fact_is_as_of_the_last_night(built: str) -> None:
    assert rows(built, "select max(status_as_of) from marts_candidate.fct_credit_record") == [(NIGHT_2,)]


@pytest.mark.parametrize("table", REWRITE_TRACKED)
def test_the_incremental_night_recomputes_only_what_changed(built: str, table: str) -> None:
    rewritten = {r[0] for r in rows(built, "select record_id from public.rewritten where table_name = %s", table)}
    changed = {
        record_id("penalty", AUTHORITY, "宁市监罚〔2026〕3号"),   # corrected
        record_id("penalty", AUTHORITY, "宁市监罚〔2026〕10号"),  # revoked
        record_id("penalty", AUTHORITY, "宁市监罚〔2026〕11号"),  # its registration number now resolves
        record_id("penalty", AUTHORITY, "宁市监罚〔2024〕7号"),   # repaired
        record_id("penalty", AUTHORITY, "宁市监罚〔2025〕1号"),   # objection
        record_id("registration", ORG_A), record_id("registration", ORG_E),
        record_id("judicial", "（2025）苏0102执2000号", JUDICIAL_PERSON_KEY, "restricted"),  # removed
    }
    untouched = {
        record_id("penalty", AUTHORITY, "宁市监罚〔2026〕4号"), record_id("penalty", AUTHORITY, "宁市监罚〔2026〕8号"),
        record_id("registration", ORG_B), record_id("judicial", "（2025）苏0102执1234号", ORG_A, "dishonest"),
    }
    delivered = {  # what the feed tables themselves rewrite: the keys of night 2's rows
        "intermediate.int_registration__records": {record_id("registration", ORG_A), record_id("registration", ORG_E)},
        "intermediate.int_penalty__records": {record_id("penalty", AUTHORITY, "宁市监罚〔2026〕3号"),
                                              record_id("penalty", AUTHORITY, "宁市监罚〔2026〕10号")},
    }
    if table in delivered:
        assert rewritten == delivered[table]
    else:
        assert changed <= rewritten
    assert not untouched & rewritten


@pytest.mark.parametrize("table", SUBJECT_MARTS)
def test_the_incremental_night_refreshes_only_the_subjects_it_reached(built: str, table: str) -> None:
    rewritten = {r[0] for r in rows(built, "select record_id from public.rewritten where table_name = %s", table)}
    # ORG_A renamed, ORG_B revoked and repaired, ORG_C corrected, ORG_E registered (and its
    # penalty resolved), the person's listing removed; ORG_D and the natural person of the
    # penalty feed had nothing happen
    assert {ORG_A, ORG_B, ORG_C, ORG_E, JUDICIAL_PERSON_KEY} <= rewritten
    assert not {ORG_D, PERSON_HASH} & rewritten
    # its only record left the fact (retention): the subject leaves the dimension and profile
    assert rows(built, f"select count(*) from {_copy_of(table)} where subject_key = %s", ORG_F) == [(0,)]
    # its departure is a change of the night's change set: still in the calendar, out of the fact
    assert rows(built, "select in_fact from intermediate.int_night__status_calendar where subject_key = %s",
                ORG_F) == [(False,)]


def test_a_register_change_resolves_earlier_records(built: str) -> None:
    """Night 2 delivers no penalty row, only the register entry that resolves night 1's penalty."""
    found = rows(built, "select subject_key, subject_resolution"
                        " from public.incremental__marts_candidate__fct_credit_record where record_id = %s",
                 record_id("penalty", AUTHORITY, "宁市监罚〔2026〕11号"))
    assert found == [(ORG_E, "registration_number")]


def _status(dsn: str, feed: str, *key: str) -> tuple:
    found = rows(dsn, "select status, catalogue_item, is_publishable, publicity_end, subject_key,"
                      " subject_resolution from marts_candidate.fct_credit_record where record_id = %s",
                 record_id(feed, *key))
    return found[0] if found else None


def test_statuses_over_time(built: str) -> None:
    status = {number: _status(built, "penalty", AUTHORITY, number) for number in [
        "宁市监罚〔2025〕1号", "宁市监罚〔2024〕7号", "宁市监罚〔2026〕3号", "宁市监罚〔2026〕4号",
        "宁市监罚〔2026〕5号", "宁市监罚〔2022〕9号", "宁市监罚〔2015〕1号", "宁市监罚〔2026〕10号",
        "宁市监罚〔2026〕8号"]}
    assert status["宁市监罚〔2025〕1号"][:2] == ("disputed", "PEN-GENERAL")
    assert status["宁市监罚〔2025〕1号"][3] == date(2028, 5, 31)
    assert status["宁市监罚〔2024〕7号"][0] == "repaired"
    assert status["宁市监罚〔2024〕7号"][4:] == (ORG_B, "registration_number")
    assert status["宁市监罚〔2026〕3号"][0] == "corrected"
    assert status["宁市监罚〔2026〕3号"][4:] == (ORG_C, "organisation_code")
    assert status["宁市监罚〔2026〕4号"][1:3] == ("PEN-WARNING", False)
    assert status["宁市监罚〔2026〕5号"][2] is False  # minor under Order 36
    assert status["宁市监罚〔2022〕9号"][0] == "expired"
    assert status["宁市监罚〔2015〕1号"] is None  # past retention
    assert status["宁市监罚〔2026〕10号"][0] == "revoked"
    assert status["宁市监罚〔2026〕8号"][4:] == (None, "unresolved")
    judicial = rows(built, "select party_name, status, ended_on from marts_candidate.fct_credit_record"
                           " where feed = 'judicial' order by party_name")
    assert ("王某", "removed", NIGHT_2) in judicial
    assert ("南京甲科技有限公司", "active", None) in judicial


def test_a_new_night_reuses_the_parsed_project(built: str, dbt_target: list[str]) -> None:
    """The night's date reaches dbt through the environment (``CREDIT_DW_AS_OF_DATE``), not
    ``--vars``: night 2 and the full refresh after it must not re-parse the project, which a new
    date in ``--vars`` forces (2 s of every invocation of a night). That they still see the new
    date is what ``test_statuses_over_time`` checks."""
    logs = Path(dbt_target[dbt_target.index("--log-path") + 1])
    text = "".join(p.read_text(encoding="utf-8") for p in logs.glob("dbt.log*"))  # dbt rotates at 10 MB
    assert "config vars, config profile, or config target have changed" not in text
    assert text.count("Partial parsing enabled, no changes found, skipping parsing") >= 2


def test_public_disclosure_publishes_only_what_may_be_published(built: str) -> None:
    published = rows(built, "select * from marts_candidate.public_disclosure")
    assert published, "something must be published"
    items = {r[0] for r in rows(built, "select distinct catalogue_item from marts_candidate.public_disclosure")}
    assert items.isdisjoint({"PEN-WARNING", "TAX-RATING-OTHER", "SI-NOTICE"})
    non_public = rows(built, """
        select d.record_id from marts_candidate.public_disclosure d
        join marts_candidate.fct_credit_record f using (record_id)
        where not f.is_publishable or f.public_attribute <> 'actively_public'
           or f.status not in ('active', 'disputed', 'corrected')""")
    assert non_public == []
    for row in published:
        for value in row:
            for match in re.findall(r"\d{17}[\dX]", str(value)):
                assert not is_valid_resident_id(match), f"clear ID published: {row}"
    person = rows(built, "select subject_name, id_masked, uscc, summary from marts_candidate.public_disclosure"
                         " where subject_category = 'natural_person'")
    assert person == [("张某", mask_id(PERSON_ID), None, "罚款；当事人身份证号3201**********1230罚款")]
    disputed = rows(built, "select is_disputed from marts_candidate.public_disclosure where record_id = %s",
                    record_id("penalty", AUTHORITY, "宁市监罚〔2025〕1号"))
    assert disputed == [(True,)]


def test_subject_dimension_and_history(built: str) -> None:
    dim = dict(rows(built, "select subject_key, name from marts_candidate.dim_credit_subject"))
    assert dim[ORG_A] == "南京甲智能科技有限公司"
    assert ORG_D in dim and PERSON_HASH in dim
    region = rows(built, "select region_name, city_name from marts_candidate.dim_credit_subject"
                         " where subject_key = %s", ORG_A)
    assert region[0][1] == "南京市"
    history = rows(built, "select name, is_current from marts_candidate.dim_credit_subject_history"
                          " where subject_key = %s order by valid_from", ORG_A)
    assert history == [("南京甲科技有限公司", False), ("南京甲智能科技有限公司", True)]


def test_no_model_reads_restricted() -> None:
    """Clear personal IDs live in schema restricted; no model, macro or test may name it."""
    project = Path(__file__).resolve().parents[2] / "dbt_project"
    reference = re.compile(r"\brestricted\"?\s*\.|schema:\s*restricted\b", re.IGNORECASE)
    for path in [*project.rglob("*.sql"), *project.rglob("*.yml")]:
        if "target" not in path.parts:
            assert not reference.search(path.read_text()), f"{path} refers to schema restricted"


def test_analyst_reads_marts_but_not_raw_or_restricted(built: str) -> None:
    with psycopg.connect(built, autocommit=True) as conn:
        # what the publish step does: marts holds the candidate's tables, analysts may select them
        conn.execute("create table marts.analyst_probe as select * from marts_candidate.public_disclosure")
        conn.execute("grant select on all tables in schema marts to analyst")
        conn.execute("set role analyst")
        conn.execute("select count(*) from marts.analyst_probe")
        for table in ["raw.penalty", "restricted.person_identity", "marts_candidate.fct_credit_record",
                      "staging.stg_penalty__decisions", "governance.objection"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")
        conn.execute("reset role")
        conn.execute("drop table marts.analyst_probe")
        # dbt itself runs as transformer, which cannot even look into restricted
        assert conn.execute("select has_schema_privilege('transformer', 'restricted', 'usage')").fetchone() == (
            False,
        )


def test_night_2_right_after_night_1_drops_the_subject_that_left(dbt_target: list[str]) -> None:
    """Night 2 seconds after night 1 (no look-back trick): ORG_F's only record passed retention
    between the nights, so ORG_F must leave the subject marts although nothing was delivered
    for it (its departure is in the night's change set)."""
    with private_warehouse("credit_dw_test_departure") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
        build(dsn, dbt_target, NIGHT_1)
        assert rows(dsn, "select count(*) from marts_candidate.dim_credit_subject where subject_key = %s",
                    ORG_F) == [(1,)]
        with psycopg.connect(dsn) as conn:
            load_night_2(conn)
        build(dsn, dbt_target, NIGHT_2)
        for table in SUBJECT_MARTS:
            assert rows(dsn, f"select count(*) from {table} where subject_key = %s", ORG_F) == [(0,)]


def test_a_night_that_missed_the_snapshot_is_caught_up_by_the_next(dbt_target: list[str]) -> None:
    """The snapshot compares the register entries rewritten since it last wrote a version, with
    no time window: night 2's rename, built while the snapshot did not run (as when a night
    fails half-way), is in the history after the next build, which delivers nothing; and the
    entries that did not change are not versioned twice."""
    with private_warehouse("credit_dw_test_snapshot") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
        build(dsn, dbt_target, NIGHT_1)
        versions_after_night_1 = rows(dsn, "select count(*) from snapshots.subject_registration_snapshot")[0][0]
        a_day_passes(dsn)
        with psycopg.connect(dsn) as conn:
            load_night_2(conn)
        build(dsn, dbt_target, NIGHT_2, "--exclude", "subject_registration_snapshot+")
        history = "select name from snapshots.subject_registration_snapshot where uscc = %s order by dbt_valid_from"
        assert rows(dsn, history, ORG_A) == [("南京甲科技有限公司",)]
        build(dsn, dbt_target, NIGHT_2)
        assert rows(dsn, history, ORG_A) == [("南京甲科技有限公司",), ("南京甲智能科技有限公司",)]
        # night 2 wrote two versions (ORG_A's rename, ORG_E's first entry); another build none
        versions = "select count(*) from snapshots.subject_registration_snapshot"
        assert rows(dsn, versions)[0][0] == versions_after_night_1 + 2
        build(dsn, dbt_target, NIGHT_2)
        assert rows(dsn, versions)[0][0] == versions_after_night_1 + 2
