"""The joint discipline and joint incentive lists (Art. 5(3), 6(3)), the credit grade's reasons and
identifier conflicts on the hand-written two-night sample of test_dbt_build, plus one A-rated
subject without adverse records (ORG_G) and two identifier conflicts: exactly who is on each list,
and the records that put them there."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from test_dbt_build import (
    NIGHT_2,
    ORG_A,
    ORG_B,
    ORG_C,
    REGNO_B,
    build,
    load_night_1,
    load_night_2,
    private_warehouse,
    record_id,
    rows,
)

pytestmark = pytest.mark.slow

DISHONEST = record_id("judicial", "（2025）苏0102执1234号", ORG_A, "dishonest")
MAJOR_TAX = record_id("tax", "11320000MB1111111X", "苏税稽罚〔2025〕1号")
SERIOUS_ARREARS = record_id("social_insurance", "11320200MB2222222X", "锡人社认〔2026〕1号", "失业保险")
RATING_A_ORG_A = record_id("tax", "rating", ORG_A, "2025")
ORG_H = "91320113721093542U"  # registered with an organisation code its USCC does not carry
ORG_G = "91320113MA5T6UW78M"  # not registered, rated A, no adverse record
RATING_A_ORG_G = record_id("tax", "rating", ORG_G, "2025")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("dbt_lists")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_lists") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
            load_night_2(conn)
            batch = conn.execute("select max(batch_id) from quality.batch_manifest where feed = 'tax'").fetchone()[0]
            # identifiers that disagree: a record naming ORG_A with ORG_B's registration number, and
            # a register entry whose organisation code is not its USCC's positions 9-17
            penalty_batch = conn.execute(
                "select max(batch_id) from quality.batch_manifest where feed = 'penalty'").fetchone()[0]
            conn.execute(
                "insert into raw.penalty (authority_code, decision_number, operation, field_set, party_name,"
                " party_uscc, party_registration_number, penalty_types, decided_on, batch_id, source_file,"
                " source_row) values ('11320100MB0000000X', '宁市监罚〔2026〕20号', 'I', 'current',"
                " '南京甲科技有限公司', %s, %s, '{罚款}', '2026-09-10', %s, 'penalty.file', 90)",
                (ORG_A, REGNO_B, penalty_batch),
            )
            registration_batch = conn.execute(
                "select max(batch_id) from quality.batch_manifest where feed = 'registration'").fetchone()[0]
            conn.execute(
                "insert into raw.registration (uscc, name, subject_type, organisation_code, status, updated_at,"
                " batch_id, source_file, source_row) values (%s, '南京庚商贸有限公司', '企业', '12345678X', '存续',"
                " '2026-11-19 12:00', %s, 'reg.csv', 9)",
                (ORG_H, registration_batch),
            )
            conn.execute(
                "insert into raw.tax_rating (taxpayer_number, taxpayer_uscc, name, rating_year, rating_level,"
                " rated_on, batch_id, source_file, source_row) values (%s, %s, '南京己信息有限公司', 2025, 'A',"
                " '2026-04-15', %s, 'nsxy.csv', 9)",
                (ORG_G, ORG_G, batch),
            )
        build(dsn, flags, NIGHT_2)
        yield dsn


def test_joint_discipline_list_names_exactly_who_and_why(built: str) -> None:
    listed = rows(built, "select subject_key, catalogue_item, record_id from marts_candidate.joint_discipline_list")
    assert sorted(listed) == sorted([
        (ORG_A, "JUD-DISHONEST", DISHONEST),          # listed dishonest judgment debtor
        (ORG_C, "TAX-MAJOR", MAJOR_TAX),              # published major tax violator
        (ORG_B, "SI-SERIOUS", SERIOUS_ARREARS),       # serious social insurance dishonesty
    ])  # the person's consumption restriction was removed by the court on night 2: not listed


def test_joint_incentive_list_needs_positive_information_and_no_adverse_record(built: str) -> None:
    listed = rows(built, "select subject_key, catalogue_item, record_id from marts_candidate.joint_incentive_list")
    # ORG_A is rated A too, but is a listed dishonest judgment debtor
    assert listed == [(ORG_G, "TAX-RATING-A", RATING_A_ORG_G)]
    assert rows(built, "select count(*) from marts_candidate.fct_credit_record where record_id = %s"
                       " and status = 'active'", RATING_A_ORG_A) == [(1,)]


def test_credit_grade_reasons_name_the_records(built: str) -> None:
    grades = dict(rows(built, "select subject_key, credit_grade from marts_candidate.subject_credit_profile"
                              " where subject_key in (%s, %s)", ORG_A, ORG_G))
    assert grades == {ORG_A: "D", ORG_G: "A"}
    (reasons,) = rows(built, "select grade_reasons from marts_candidate.subject_credit_profile"
                             " where subject_key = %s", ORG_A)[0]
    assert reasons[0] == ("G01 listed as a dishonest judgment debtor"
                          f" (dishonest_judgment_debtor_active = 1: {DISHONEST})")
    assert not any("no active adverse" in r for r in reasons)


def test_identifier_conflicts_are_register_anomalies(built: str) -> None:
    conflicts = rows(built, "select subject_key, record_id, registration_number, organisation_code"
                            " from marts_candidate.register_anomalies where anomaly_type = 'identifier_conflict'"
                            " order by subject_key")
    assert conflicts == sorted([
        (ORG_A, record_id("penalty", "11320100MB0000000X", "宁市监罚〔2026〕20号"), REGNO_B, None),
        (ORG_H, None, None, "12345678X"),
    ])
