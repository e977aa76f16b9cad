"""Row validation and normalisation at the door, per field type, without a database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from credit_dw.feeds import all_specs, load_spec
from credit_dw.ingest import reasons, values
from credit_dw.ingest.readers import Record
from credit_dw.ingest.validation import RowValidator, choose_field_set, mask_personal_ids

KEY = b"unit-test-key"
PENALTY = load_spec("penalty")
KIND = PENALTY.files[0]
CURRENT = KIND.field_set("current")
LEGACY = KIND.field_set("legacy")
GOOD = {"CF_WSH": "宁罚1号", "CF_XDR_MC": "甲公司", "CF_JDRQ": "2026-10-01",
        "CF_CFJGDM": "113201000150986026", "CZBS": "I"}


def validate(fields: dict, field_set=CURRENT, kind=KIND, lookups=PENALTY.lookups):
    return RowValidator(kind, field_set, lookups, KEY).validate(Record(7, fields, "raw"))


def codes(out) -> list[str]:
    return out.reason_codes


def test_good_row():
    out = validate(GOOD)
    assert not out.rejected
    assert out.values["decided_on"] == date(2026, 10, 1)
    assert out.values["field_set"] == "current" and out.values["penalty_types"] == []


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-01", date(2026, 10, 1)), ("2026/10/01", date(2026, 10, 1)), ("20261001", date(2026, 10, 1)),
    ("2026/1/5", date(2026, 1, 5)),
])
def test_date_formats(text, expected):
    assert values.parse_date(text) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "01/10/2026", "2026-10", "2026.10.01"])
def test_bad_dates(text):
    out = validate({**GOOD, "CF_JDRQ": text})
    assert codes(out) == [reasons.INVALID_DATE]
    assert "CF_JDRQ" in out.message("f.csv") and text in out.message("f.csv") and "row 7" in out.message("f.csv")


def test_long_term_valid_until_is_null():
    assert validate({**GOOD, "CF_YXQ": "2099-12-31"}).values["valid_until"] is None
    assert validate({**GOOD, "CF_YXQ": "20991231"}).values["valid_until"] is None
    assert validate({**GOOD, "CF_YXQ": "2027-01-01"}).values["valid_until"] == date(2027, 1, 1)


@pytest.mark.parametrize(("text", "cny"), [("0.35", "3500.00"), ("1", "10000.00"), ("0.000001", "0.01"),
                                           ("12.3456", "123456.00"), ("1,234.5", "12345000.00")])
def test_amount_in_ten_thousands_is_exact(text, cny):
    value = validate({**GOOD, "CF_NR_FK": text}).values["fine_cny"]
    assert isinstance(value, Decimal) and value == Decimal(cny)


@pytest.mark.parametrize("text", ["壹万元", "-1", "1.2.3", "0.0000001", "N/A", "1e3"])
def test_bad_amounts(text):
    assert codes(validate({**GOOD, "CF_NR_FK": text})) == [reasons.INVALID_AMOUNT]


def test_missing_required_lists_every_problem():
    out = validate({**GOOD, "CF_XDR_MC": " ", "CZBS": "X"})
    assert codes(out) == [reasons.MISSING_REQUIRED, reasons.UNKNOWN_ENUM]


def test_enum_list_split_and_checked():
    assert validate({**GOOD, "CF_CFLB": "罚款；警告"}).values["penalty_types"] == ["罚款", "警告"]
    assert codes(validate({**GOOD, "CF_CFLB": "罚款;罚钱"})) == [reasons.UNKNOWN_ENUM]


def test_identifiers_are_normalised():
    out = validate({**GOOD, "CF_XDR_SHXYM": " ９１３１０１１５ｍａ１ｋ３ｂｔｐ２ｂ ", "CF_XDR_ZZJG": "ma1k3btp-2"})
    assert not out.rejected
    assert out.values["party_uscc"] == "91310115MA1K3BTP2B"
    assert out.values["party_organisation_code"] == "MA1K3BTP2"


def test_uscc_check_failure_rejected_outside_registration():
    out = validate({**GOOD, "CF_XDR_SHXYM": "91310115MA1K3BTP2C"})
    assert codes(out) == [reasons.INVALID_USCC] and "'B'" in out.message("f")


def test_uscc_check_failure_is_a_warning_in_registration():
    spec = load_spec("registration")
    kind = spec.files[0]
    row = {"TYSHXYDM": "91310115MA1K3BTP2C", "ZTMC": "甲", "ZTLX": "企业", "DJZT": "存续",
           "GXSJ": "2026-11-01 08:00:00"}
    out = validate(row, kind.field_sets[0], kind, spec.lookups)
    assert not out.rejected and out.warned
    assert out.values["uscc_check_failed"] is True
    assert out.values["updated_at"] == datetime(2026, 11, 1, 8, 0)
    ok = validate({**row, "TYSHXYDM": "91310115MA1K3BTP2B"}, kind.field_sets[0], kind, spec.lookups)
    assert ok.values["uscc_check_failed"] is False and not ok.warned
    bad_shape = validate({**row, "TYSHXYDM": "91310115MA1K3BTP2"}, kind.field_sets[0], kind, spec.lookups)
    assert codes(bad_shape) == [reasons.INVALID_USCC]  # shape errors are never a register anomaly


def test_person_id_is_pseudonymised():
    out = validate({**GOOD, "CF_XDR_ZJLX": "01", "CF_XDR_ZJHM": "320102199003071239"})
    assert out.values["party_id_masked"] == "3201**********1239"
    assert len(out.values["party_id_hash"]) == 64
    assert "320102199003071239" not in out.values.values()
    assert out.persons == [(out.values["party_id_hash"], "320102199003071239", "01", "3201**********1239")]


def test_bad_resident_id_is_masked_in_the_message():
    out = validate({**GOOD, "CF_XDR_ZJLX": "01", "CF_XDR_ZJHM": "320102199003071238"})
    assert codes(out) == [reasons.INVALID_RESIDENT_ID]
    assert "320102199003071238" not in out.message("f") and "3201**********1238" in out.message("f")


def test_passport_is_hashed_not_checked():
    out = validate({**GOOD, "CF_XDR_ZJLX": "02", "CF_XDR_ZJHM": "E12345678"})
    assert not out.rejected and out.values["party_id_masked"] == "E123*5678"


def test_legacy_maps_status_and_authority():
    row = {"CF_WSH": "宁罚1号", "CF_XDR_MC": "甲", "CF_JDRQ": "20261001", "CF_XZJG": "南京市市场监督管理局",
           "CF_ZT": "1", "CF_CFLB1": "罚款", "CF_CFLB2": "警告", "CF_XDR_SFZ": "320102199003071239"}
    out = validate(row, LEGACY)
    assert not out.rejected
    v = out.values
    assert (v["authority_code"], v["operation"], v["legacy_status"], v["field_set"]) == (
        "113201000150986026", "D", "1", "legacy")
    assert v["penalty_types"] == ["罚款", "警告"] and v["party_id_type"] == "01"
    assert validate({**row, "CF_ZT": "2"}, LEGACY).values["operation"] == "I"
    unknown = validate({**row, "CF_XZJG": "火星市市场监督管理局"}, LEGACY)
    assert codes(unknown) == [reasons.UNKNOWN_AUTHORITY]


def test_field_set_from_header_signature():
    assert choose_field_set(KIND, ["CF_WSH", "CF_XDR_MC", "CF_JDRQ", "CF_CFJGDM", "CZBS"]).name == "current"
    assert choose_field_set(KIND, ["CF_WSH", "CF_XDR_MC", "CF_JDRQ", "CF_XZJG", "CF_ZT", "X"]).name == "legacy"
    assert choose_field_set(KIND, ["CF_WSH", "CF_XDR_MC", "CF_JDRQ"]) is None


def test_drift_is_collected():
    validator = RowValidator(KIND, CURRENT, PENALTY.lookups, KEY)
    validator.validate(Record(2, {**GOOD, "CF_SURPRISE": "x"}, "raw"))
    assert validator.drift == {"CF_SURPRISE"}


def test_mask_personal_ids_in_free_text():
    text = "张三,320102199003071238,91320100MA1W3XYU55,121200004013590816"
    assert mask_personal_ids(text) == "张三,3201**********1238,91320100MA1W3XYU55,121200004013590816"


def test_judicial_card_num():
    spec = load_spec("judicial")
    kind = spec.files[0]
    fs = kind.field_sets[0]
    base = {"caseCode": "（2025）苏0102执1234号", "iname": "甲公司", "partyType": "法人", "listType": "dishonest",
            "cardNum": "91320100MA1W3XYU55"}
    org = validate(base, fs, kind, spec.lookups)
    assert org.values["party_uscc"] == org.values["party_key"] == "91320100MA1W3XYU55"
    assert org.values["case_code"] == "(2025)苏0102执1234号"
    person = validate({**base, "partyType": "自然人", "iname": "张三", "cardNum": "3201**********1239"},
                      fs, kind, spec.lookups)
    assert person.values.get("party_uscc") is None and len(person.values["party_key"]) == 64
    clear = validate({**base, "partyType": "自然人", "cardNum": "320102199003071239"}, fs, kind, spec.lookups)
    assert clear.values["card_num"] == "3201**********1239" and clear.persons


def test_every_spec_parses_and_has_the_dag_keys():
    for spec in all_specs():
        assert spec.schedule and spec.raw_tables and spec.done_timeout_hours > 0
        for kind in spec.files:
            assert kind.count_bounds.min_ratio_to_median == 0.5
            assert kind.count_bounds.max_ratio_to_median == 3.0
            assert kind.count_bounds.trailing_deliveries == 7


def test_every_reason_code_is_documented():
    from pathlib import Path

    from credit_dw.ingest import reasons

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reason-codes.md").read_text(encoding="utf-8")
    codes = [v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)]
    assert len(codes) > 20
    assert [c for c in codes if f"| `{c}` |" not in doc] == []
