"""One person, one subject (issue 11): persons the courts list by masked ID + name resolve to the
person a penalty decision names by clear ID, confidently by themselves, doubtfully through a
steward (``credit-dw identity review|accept|reject``), and the decisions survive rebuilds.

Built on the hand-written sample of test_dbt_build plus: the penalised person 张某 (clear ID,
keyed hash PERSON_HASH) listed by a Nanjing court as ``3201**********1230`` 张某 (one candidate:
linked), and a court-listed 李某 whose masked ID and name fit two penalised persons (pending).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from decimal import Decimal
from hashlib import md5, sha256

import psycopg
import pytest
from test_dbt_build import (
    AUTHORITY,
    NIGHT_2,
    ORG_A,
    ORG_B,
    ORG_D,
    PERSON_HASH,
    PERSON_ID,
    build,
    differences,
    keep_incremental_copies,
    load_night_1,
    load_night_2,
    private_warehouse,
    record_id,
    rows,
)

from credit_dw import cli

pytestmark = pytest.mark.slow


def _key(text: str) -> str:
    return hmac.new(b"test", text.encode(), sha256).hexdigest()


ZHANG_LISTED = _key("3201**********1230|张某")   # the penalised person 张某, as the court lists him
LI_LISTED = _key("3205**********0011|李 某")  # as the loader keys the name the court wrote
LI_A_ID, LI_B_ID = "320581199001010011", "320582198807070011"   # two penalised 李某 the mask and name fit
LI_A, LI_B = _key(LI_A_ID), _key(LI_B_ID)
ZHANG_DISHONEST = record_id("judicial", "（2026）苏0102执77号", ZHANG_LISTED, "dishonest")
LI_RESTRICTED = record_id("judicial", "（2026）苏0102执78号", LI_LISTED, "restricted")


def _link(person_key: str, id_hash: str) -> str:
    return md5(f"{person_key}|{id_hash}".encode()).hexdigest()


def _add_persons(conn: psycopg.Connection) -> None:
    judicial = conn.execute("select min(batch_id) from quality.batch_manifest where feed = 'judicial'").fetchone()[0]
    penalty = conn.execute("select min(batch_id) from quality.batch_manifest where feed = 'penalty'").fetchone()[0]
    for number, (case, key, name, masked, list_type) in enumerate([
        ("（2026）苏0102执77号", ZHANG_LISTED, "张某", "3201**********1230", "dishonest"),
        ("（2026）苏0102执78号", LI_LISTED, "李 某", "3205**********0011", "restricted"),
    ], start=10):
        conn.execute(
            "insert into raw.judicial_listing (case_code, party_key, list_type, content_hash, party_name, card_num,"
            " party_type, court_name, disrupt_type, published_on, first_seen_on, last_seen_on, batch_id, source_file,"
            " source_row) values (%s, %s, %s, %s, %s, %s, '自然人', '南京市玄武区人民法院', '有履行能力而拒不履行',"
            " '2026-03-01', '2026-10-01', %s, %s, 'judicial.file', %s)",
            (case, key, list_type, f"h{number}", name, masked, NIGHT_2, judicial, number),
        )
    # the clear IDs behind the penalties' hashes, as the loader registers them (a rotation reads them)
    for id_hash, number in ((PERSON_HASH, PERSON_ID), (LI_A, LI_A_ID), (LI_B, LI_B_ID)):
        conn.execute("insert into restricted.person_identity (id_hash, id_number, id_type, id_masked, first_batch_id)"
                     " values (%s, %s, '01', %s, %s)", (id_hash, number, number[:4] + "*" * 10 + number[-4:], penalty))
    for number, id_hash in enumerate([LI_A, LI_B], start=20):
        conn.execute(
            "insert into raw.penalty (authority_code, decision_number, operation, field_set, party_name, party_type,"
            " party_id_type, party_id_hash, party_id_masked, penalty_types, decided_on, authority_name, batch_id,"
            " source_file, source_row) values ('11320100MB0000000X', %s, 'I', 'current', '李某', '自然人', '01', %s,"
            " '3205**********0011', '{罚款}', '2026-08-05', '南京市市场监督管理局', %s, 'penalty.file', %s)",
            (f"宁市监罚〔2026〕{number}号", id_hash, penalty, number),
        )


def _add_names(conn: psycopg.Connection) -> None:
    """ORG_D (not registered, 某某公司 in the penalties) as 某某有限公司 in an arrears file, and as
    「某某 公司」 (a space: the same name) on a court list."""
    first = "select min(batch_id) from quality.batch_manifest where feed = %s"
    social = conn.execute(first, ("social_insurance",)).fetchone()[0]
    judicial = conn.execute(first, ("judicial",)).fetchone()[0]
    conn.execute(
        "insert into raw.social_insurance_arrears (unit_name, uscc, insurance_type, arrears_cny, document_type,"
        " document_number, department_code, decided_on, status, updated_on, batch_id, source_file, source_row)"
        " values ('某某有限公司', %s, '工伤保险', 500, '限期缴纳通知', '宁人社通〔2026〕9号', '11320100MB3333333X',"
        " '2026-09-01', '欠缴', '2026-09-01', %s, 'arrears.file', 30)", (ORG_D, social))
    conn.execute(
        "insert into raw.judicial_listing (case_code, party_key, list_type, content_hash, party_name, card_num,"
        " party_uscc, party_type, court_name, published_on, first_seen_on, last_seen_on, batch_id, source_file,"
        " source_row) values ('（2026）苏0102执9号', %s, 'restricted', 'h30', '某某 公司', %s, %s, '法人',"
        " '南京市玄武区人民法院', '2026-03-01', '2026-10-01', %s, %s, 'judicial.file', 30)",
        (ORG_D, ORG_D, ORG_D, NIGHT_2, judicial))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    base = tmp_path_factory.mktemp("dbt_identity")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_identity") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
            load_night_2(conn)
            _add_persons(conn)
            _add_names(conn)
        build(dsn, flags, NIGHT_2)
        yield dsn, flags


def _subject(dsn: str, record: str) -> tuple:
    return rows(dsn, "select subject_key, subject_resolution from marts_candidate.fct_credit_record"
                     " where record_id = %s", record)[0]


def test_a_listed_person_with_the_same_masked_id_and_name_as_a_penalised_person_is_one_subject(
    warehouse: tuple[str, list[str]],
) -> None:
    dsn, _ = warehouse
    assert _subject(dsn, ZHANG_DISHONEST) == (PERSON_HASH, "person_link")
    # one subject: the dimension, the profile and the joint list know the person once, by the clear-ID key
    for mart in ("dim_credit_subject", "subject_credit_profile"):
        assert rows(dsn, f"select count(*) from marts_candidate.{mart} where subject_key = %s", ZHANG_LISTED) == [(0,)]
        assert rows(dsn, f"select count(*) from marts_candidate.{mart} where subject_key = %s", PERSON_HASH) == [(1,)]
    assert rows(dsn, "select subject_key from marts_candidate.joint_discipline_list where record_id = %s",
                ZHANG_DISHONEST) == [(PERSON_HASH,)]
    (link,) = rows(dsn, "select link_status, confidence, evidence->>'seen_in_id_city', is_applied"
                        " from marts_candidate.person_link_review where link_id = %s", _link(ZHANG_LISTED, PERSON_HASH))
    assert link == ("auto", Decimal("0.95"), "true", True)


def test_a_listed_person_fitting_several_clear_ids_waits_for_a_steward_and_review_shows_no_clear_id(
    warehouse: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, _ = warehouse
    assert _subject(dsn, LI_RESTRICTED) == (LI_LISTED, "person_key")
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    assert cli.main(["identity", "review"]) == 0
    out = capsys.readouterr().out
    assert _link(LI_LISTED, LI_A) in out and _link(LI_LISTED, LI_B) in out
    assert "3205**********0011" in out and "2 link(s) pending" in out
    assert _link(ZHANG_LISTED, PERSON_HASH) not in out  # confident links are not in the queue
    assert PERSON_ID not in out


def test_steward_decisions_apply_at_the_next_build_and_survive_a_full_refresh(
    warehouse: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, flags = warehouse
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    assert cli.main(["identity", "accept", _link(LI_LISTED, LI_A), "--reason", "judgment names the ID"]) == 0
    assert cli.main(["identity", "reject", _link(ZHANG_LISTED, PERSON_HASH), "--reason", "another 张某"]) == 0
    assert "applied at the next build" in capsys.readouterr().out
    assert cli.main(["identity", "accept", "no-such-link", "--reason", "x"]) == 2
    assert "not in the person link list" in capsys.readouterr().err
    assert cli.main(["identity", "reject", _link(LI_LISTED, LI_B), "--reason", " "]) == 2
    (who,) = rows(dsn, "select distinct decided_by from governance.person_link_decision")
    assert who[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        rows(dsn, "delete from governance.person_link_decision")

    build(dsn, flags, NIGHT_2)  # the next night: incremental
    assert _subject(dsn, LI_RESTRICTED) == (LI_A, "person_link")
    assert _subject(dsn, ZHANG_DISHONEST) == (ZHANG_LISTED, "person_key")
    assert rows(dsn, "select count(*) from marts_candidate.dim_credit_subject where subject_key = %s",
                ZHANG_LISTED) == [(1,)]

    keep_incremental_copies(dsn)
    build(dsn, flags, NIGHT_2, "--full-refresh")  # a rebuild reads the decisions again
    assert _subject(dsn, LI_RESTRICTED) == (LI_A, "person_link")
    assert _subject(dsn, ZHANG_DISHONEST) == (ZHANG_LISTED, "person_key")
    for table in ("intermediate.int_person__resolution", "intermediate.int_credit_record__lifecycle",
                  "marts_candidate.fct_credit_record", "marts_candidate.dim_credit_subject",
                  "marts_candidate.person_link_review"):
        assert differences(dsn, table) == ([], []), table


def test_conflicting_names_are_register_anomalies(warehouse: tuple[str, list[str]]) -> None:
    dsn, _ = warehouse
    conflicts = rows(dsn, "select subject_key, record_id from marts_candidate.register_anomalies"
                          " where anomaly_type = 'name_conflict' order by subject_key, record_id")
    assert conflicts == sorted([
        # registered USCCs named with a name the register never gave them (the penalties' 某某公司);
        # ORG_A's records under its former name 南京甲科技有限公司 are history, not a conflict
        (ORG_A, record_id("penalty", AUTHORITY, "宁市监罚〔2025〕1号")),
        (ORG_B, record_id("penalty", AUTHORITY, "宁市监罚〔2026〕10号")),
        # not registered: 某某公司 (penalties, commitment, court list with a space) and 某某有限公司
        (ORG_D, None),
    ])
    (detail,) = rows(dsn, "select detail from marts_candidate.register_anomalies"
                          " where anomaly_type = 'name_conflict' and subject_key = %s", ORG_D)[0]
    assert "某某有限公司" in detail and "social_insurance" in detail


def _subject_partition(dsn: str) -> set[frozenset]:
    """Which records share a subject, by lineage (record ids and subject keys change with the key)."""
    grouped = rows(dsn, "select array_agg(feed || ':' || source_file || ':' || source_row order by 1)"
                        " from marts_candidate.fct_credit_record group by subject_key")
    return {frozenset(g[0]) for g in grouped}


def _links(dsn: str) -> list[tuple]:
    return rows(dsn, "select masked_id, person_name, confidence, link_status, is_applied, decision_reason"
                     " from marts_candidate.person_link_review order by 1, 2, 3, 4, 5, 6")


def _old_key_values(dsn: str) -> set[str]:
    """Every value made with the old key: person hashes and the record ids that embed them."""
    found = rows(dsn, "select id_hash from restricted.person_identity union select party_key from"
                      " raw.judicial_listing where party_uscc is null union select subject_key from"
                      " marts_candidate.fct_credit_record where subject_category = 'natural_person' union select"
                      " record_id from marts_candidate.fct_credit_record where subject_category = 'natural_person'"
                      " and feed in ('judicial', 'tax')")
    return {r[0] for r in found}


def _where_found(dsn: str, values: set[str]) -> list[str]:
    columns = rows(dsn, "select table_schema, table_name, column_name, data_type from information_schema.columns"
                        " join information_schema.tables using (table_schema, table_name)"
                        " where table_type = 'BASE TABLE' and table_schema in"
                        " ('raw', 'restricted', 'governance', 'history', 'quality', 'intermediate', 'marts_candidate')"
                        " and data_type in ('text', 'jsonb', 'ARRAY')")
    hits = []
    for schema, table, column, _ in columns:
        (count,) = rows(dsn, f'select count(*) from "{schema}"."{table}" as t where exists'
                             f' (select from unnest(%s::text[]) as v(x) where strpos(t."{column}"::text, x) > 0)',
                        sorted(values))[0]
        if count:
            hits.append(f"{schema}.{table}.{column}: {count}")
    return hits


def test_a_key_rotation_rekeys_everything_in_one_go_and_keeps_subjects_links_and_decisions(
    warehouse: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, flags = warehouse
    partition, links, old_values = _subject_partition(dsn), _links(dsn), _old_key_values(dsn)
    decisions = rows(dsn, "select decision, reason from governance.person_link_decision order by decision_id")
    assert any(link[3] == "accepted" for link in links)  # the steward decision of the test before
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("CREDIT_DW_PII_KEY_OLD", "wrong-old-key")
    monkeypatch.setenv("CREDIT_DW_PII_KEY", "a-new-key-" + "5" * 32)
    assert cli.main(["identity", "rotate-key"]) == 2  # a wrong old key changes nothing
    assert "not made with the old key" in capsys.readouterr().err
    assert _old_key_values(dsn) == old_values

    monkeypatch.setenv("CREDIT_DW_PII_KEY_OLD", "test")
    assert cli.main(["identity", "rotate-key"]) == 0
    assert "build --full-refresh" in capsys.readouterr().out
    build(dsn, flags, NIGHT_2, "--full-refresh")

    assert _subject_partition(dsn) == partition
    assert _links(dsn) == links
    assert rows(dsn, "select decision, reason from governance.person_link_decision order by decision_id") == decisions
    assert _subject(dsn, record_id("judicial", "（2026）苏0102执78号", _new_key("3205**********0011|李 某"),
                                   "restricted")) == (_new_key(LI_A_ID), "person_link")
    assert _where_found(dsn, old_values) == []
    (rotation,) = rows(dsn, "select rows_rekeyed->>'restricted.person_identity.id_hash'"
                            " from governance.pii_key_rotation")
    assert rotation == ("3",)


def _new_key(text: str) -> str:
    return hmac.new(("a-new-key-" + "5" * 32).encode(), text.encode(), sha256).hexdigest()
