"""Identifier checks against the standards' own definitions and worked examples."""

from __future__ import annotations

import pytest

from credit_dw import identifiers as ids


def test_gb32100_worked_example():
    # GB 32100-2015 Annex: 91350100M000100Y4 sums to 1640, 1640 mod 31 = 28 → check '3'
    assert ids.uscc_check_char("91350100M000100Y4") == "3"
    assert ids.is_valid_uscc("91350100M000100Y43")
    assert not ids.is_valid_uscc("91350100M000100Y44")


@pytest.mark.parametrize("code", ["91110000600037341L", "121200004013590816", "91310115MA1K3BTP2B",
                                  "92340602MA2PBMEM24"])
def test_domain_examples_are_valid(code):
    assert ids.is_valid_uscc(code)


@pytest.mark.parametrize("code", ["N2320102MA1X2Y3W48", "Y132010212345678XL", "A1320100MA1W3XYU54"])
def test_letters_in_positions_1_and_2_are_legal(code):
    """python-stdnum's cn.uscc rejects these (digits only in 1-8); the standard accepts them."""
    assert not code[:2].isdigit()
    assert ids.is_valid_uscc(code)


@pytest.mark.parametrize("code", [
    "91350100M000100Y4",     # 17 symbols
    "91350100M000100Y433",   # 19 symbols
    "91350100MO00100Y43",    # O is not in the set
    "913501A0M000100Y43",    # division code (positions 3-8) must be digits
])
def test_shape_errors(code):
    assert not ids.is_valid_uscc(code)


def test_normalise_folds_fullwidth_and_case_but_never_fixes_letters():
    assert ids.normalise(" ９１３５０１００ｍ０００１００ｙ４３ ") == "91350100M000100Y43"
    assert ids.normalise("91350100MOOO100Y43") == "91350100MOOO100Y43"  # O stays O
    assert ids.normalise(None) == ""


def test_org_code_gb11714():
    assert ids.org_code_check_char("12345678") == "8"
    assert ids.is_valid_org_code("12345678-8")
    assert ids.is_valid_org_code("123456788")
    assert not ids.is_valid_org_code("12345678-9")
    assert ids.is_valid_org_code("MA1K3BTP-2")
    # 10 maps to X, 11 to 0
    assert {ids.org_code_check_char(f"{n:08d}") for n in range(200)} >= {"X", "0"}


def test_org_code_is_uscc_positions_9_to_17():
    assert ids.uscc_from_org_code("91310115MA1K3BTP2B") == "MA1K3BTP2"
    assert ids.is_valid_org_code(ids.uscc_from_org_code("91310115MA1K3BTP2B"))


def test_registration_number_mod_11_10():
    assert ids.is_valid_registration_number("320100000123455")
    assert not ids.is_valid_registration_number("320100000123456")
    assert not ids.is_valid_registration_number("32010000012345")


def test_resident_id_gb11643():
    assert ids.is_valid_resident_id("320102199003071239")
    assert ids.is_valid_resident_id("11010519491231002X")
    assert not ids.is_valid_resident_id("320102199003071238")
    assert not ids.is_valid_resident_id("3201**********1239")
    assert ids.looks_like_resident_id("320102199003071238")  # personal data even with a bad check
    assert not ids.looks_like_resident_id("121200004013590816")  # a USCC: no plausible birth date


def test_masking_and_hmac():
    assert ids.mask_id("320102199003071239") == "3201**********1239"
    assert ids.is_masked_id("3201**********1239")
    h1 = ids.pii_hash("320102199003071239", b"k1")
    assert h1 == ids.pii_hash("320102199003071239", b"k1") != ids.pii_hash("320102199003071239", b"k2")
    assert len(h1) == 64


@pytest.mark.parametrize(("code", "kind"), [
    ("91310115MA1K3BTP2B", "uscc"),
    ("320102199003071239", "resident_id"),
    ("32010219900307123901", "resident_id"),
    ("320102123456788", "legacy"),
    ("91310115MA1K3BTP2C", None),
    ("ABC", None),
])
def test_taxpayer_number_kinds(code, kind):
    assert ids.taxpayer_number_kind(code) == kind


def test_old_style_and_ambiguous_ids():
    assert ids.looks_like_old_resident_id("320102850612123")
    assert not ids.looks_like_old_resident_id("320100001399455")   # month 13
    assert not ids.looks_like_old_resident_id("990102850612123")   # no such province
    # about 3 % of resident IDs pass GB 32100 too: context, not the checksum, decides
    assert ids.ambiguous_uscc("320102198506120077") and not ids.embedded_org_code_ok("320102198506120077")
    assert ids.ambiguous_uscc("110101198506121699") and ids.embedded_org_code_ok("110101198506121699")
    assert not ids.ambiguous_uscc("91320100MA1W3XYU55")
