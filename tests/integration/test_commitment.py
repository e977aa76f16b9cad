"""The sixth feed, added through spec, models, catalogue rows and generator alone: from a delivery
to the marts with real ingestion and a real dbt build.

A kept commitment is positive information in the subject's profile; a broken one becomes a
dishonesty record published for the period the catalogue's rule gives, from the day the
department found it; a running one is public commitment information.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from test_dbt_build import a_day_passes, build, private_warehouse, record_id, rows

from credit_dw.ingest.delivery import ingest_delivery

pytestmark = pytest.mark.slow

HEADER = ["承诺编号", "承诺主体名称", "主体类型", "统一社会信用代码", "证件号码", "承诺类型", "承诺事项", "受诺单位",
          "受诺单位代码", "承诺日期", "承诺期限", "履约状态", "未履约认定日期", "更新时间"]
ACCEPTOR = "113201000150986026"        # 南京市市场监督管理局 (departments.csv)
KEPT_ORG, BROKEN_ORG = "91110000600037341L", "91310115MA1K3BTP2B"
DAY_1, DAY_2 = date(2026, 11, 20), date(2026, 11, 21)


def _commitment(number: str, name: str, kind: str, uscc: str, card: str, status: str, broken: str,
                updated: str) -> list[str]:
    return [number, name, kind, uscc, card, "审批替代型", "以告知承诺方式办理行政许可", "南京市市场监督管理局",
            ACCEPTOR, "2026-06-01", "2026-12-01", status, broken, updated]


DELIVERIES = {
    DAY_1: [
        _commitment("CN-1", "甲公司", "法人及非法人组织", KEPT_ORG, "", "已履约", "", "2026-11-19 10:00:00"),
        _commitment("CN-2", "乙公司", "法人及非法人组织", BROKEN_ORG, "", "履约中", "", "2026-06-01 09:00:00"),
        _commitment("CN-3", "张三", "自然人", "", "3201**********1230", "履约中", "", "2026-06-01 09:00:00"),
        ["CN-4", "丙公司", "法人及非法人组织", "91310115MA1K3BTP2C", "", "主动型", "承诺", "南京市市场监督管理局",
         ACCEPTOR, "2026-06-01", "", "履约中", "", "2026-06-01 09:00:00"],       # USCC check fails
        ["CN-5", "丁公司", "法人及非法人组织", KEPT_ORG, "", "主动型", "承诺", "南京市市场监督管理局",
         ACCEPTOR, "2026-06-01", "", "已违约", "", "2026-06-01 09:00:00"],       # not a fulfilment status
    ],
    DAY_2: [   # the department finds CN-2 broken
        _commitment("CN-2", "乙公司", "法人及非法人组织", BROKEN_ORG, "", "未履约", "2026-11-20",
                    "2026-11-20 17:00:00"),
    ],
}


def _deliver(root: Path, day: date, records: list[list[str]]) -> None:
    folder = root / "commitment" / day.isoformat()
    folder.mkdir(parents=True)
    with (folder / f"commitment_{day:%Y%m%d}.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *records])
    (folder / "_DONE").touch()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("commitment")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_commitment") as dsn:
        for day, records in DELIVERIES.items():
            _deliver(base / "landing", day, records)
            (f,) = ingest_delivery("commitment", day, dsn=dsn, landing_root=base / "landing").files
            assert f.status == "loaded", f.message
            build(dsn, flags, day)
            a_day_passes(dsn)
        yield dsn


def test_delivery_is_validated_by_the_spec(built: str) -> None:
    reasons = rows(built, "select source_row, reason_codes from quality.rejected_rows where feed = 'commitment'"
                          " order by source_row")
    assert reasons == [(5, ["INVALID_USCC"]), (6, ["UNKNOWN_ENUM"])]
    assert rows(built, "select count(*), count(distinct batch_id) from raw.commitment") == [(4, 2)]
    person = rows(built, "select party_key, card_num from raw.commitment where commitment_number = 'CN-3'")
    assert person[0][1] == "3201**********1230" and len(person[0][0]) == 64     # keyed hash, masked ID


def test_broken_commitment_is_published_for_the_catalogue_period(built: str) -> None:
    rid = record_id("commitment", ACCEPTOR, "CN-2")
    fact = rows(built, "select record_type, catalogue_item, art11_category, severity, rule_version, status,"
                       " publicity_start, publicity_end, subject_key from marts_candidate.fct_credit_record"
                       " where record_id = %s", rid)
    assert fact == [("commitment.broken", "CMT-BROKEN", 2, "ordinary", "PROV-COMMITMENT-BROKEN", "active",
                     date(2026, 11, 20), date(2027, 11, 19), BROKEN_ORG)]
    assert rows(built, "select count(*) from marts_candidate.public_disclosure where record_id = %s", rid) == [(1,)]
    profile = rows(built, "select adverse_active, positive_active, art11_2_commitment_count, credit_grade"
                          " from marts_candidate.subject_credit_profile where subject_key = %s", BROKEN_ORG)
    assert profile == [(1, 0, 1, "B")]


def test_kept_commitment_counts_for_the_profile(built: str) -> None:
    fact = rows(built, "select catalogue_item, severity, status from marts_candidate.fct_credit_record"
                       " where record_id = %s", record_id("commitment", ACCEPTOR, "CN-1"))
    assert fact == [("CMT-KEPT", "positive", "active")]
    profile = rows(built, "select adverse_active, positive_active, art11_2_commitment_count, credit_grade"
                          " from marts_candidate.subject_credit_profile where subject_key = %s", KEPT_ORG)
    assert profile == [(0, 1, 1, "A")]


def test_running_commitment_of_a_person_is_public_and_masked(built: str) -> None:
    fact = rows(built, "select catalogue_item, subject_category, party_id_masked, is_publishable"
                       " from marts_candidate.fct_credit_record where record_id = %s",
                record_id("commitment", ACCEPTOR, "CN-3"))
    assert fact == [("CMT-MADE", "natural_person", "3201**********1230", True)]
