"""The sample-delivery generator: determinism, the departments' exact formats, honest defect counts.

The defect counts in ``_generation.json`` are what ingestion tests compare quarantine against,
so here they are re-derived independently from the files with the standard checks in
``credit_dw.identifiers``: a valid identifier where no defect was intended, an invalid one
exactly where one was.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from openpyxl import load_workbook

from credit_dw.cli import main
from credit_dw.config import PROJECT_ROOT
from credit_dw.feeds import all_specs
from credit_dw.generate import DONE_MARKER, SUMMARY_FILE, GenerationSummary, generate
from credit_dw.generate.writers import BAD_BYTES
from credit_dw.identifiers import (
    is_masked_id,
    is_valid_org_code,
    is_valid_registration_number,
    is_valid_resident_id,
    is_valid_uscc,
    normalise,
)

START = date(2026, 11, 20)
DAYS = 3
FEEDS = tuple(spec.feed for spec in all_specs())   # every feed has a generator
DEPARTMENTS = PROJECT_ROOT / "plugins" / "credit_dw" / "feeds" / "departments.csv"
DIVISIONS = PROJECT_ROOT / "dbt_project" / "seeds" / "admin_divisions.csv"
SAMPLES = PROJECT_ROOT / "samples" / "landing"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(out, START, DAYS, rows=300, seed=11, defect_rate=0.2)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _day(i: int) -> str:
    return date.fromordinal(START.toordinal() + i).isoformat()


def _csv_rows(path: Path, encoding: str) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_bytes().decode(encoding, errors="replace")
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def _encoding_of(path: Path, undecodable: int) -> str:
    """UTF-8 or GB18030, whichever decodes every line except the deliberately broken ones."""
    lines = path.read_bytes().split(b"\n")
    broken = [line for line in lines if BAD_BYTES in line]
    assert len(broken) == undecodable, path
    clean = b"\n".join(line for line in lines if BAD_BYTES not in line)
    for encoding in ("utf-8", "gb18030"):
        try:
            clean.decode(encoding)
        except UnicodeDecodeError:
            continue
        for line in broken:
            with pytest.raises(UnicodeDecodeError):
                line.decode(encoding)
        return encoding
    raise AssertionError(f"{path} decodes neither as UTF-8 nor as GB18030")


def _summary_of(summary: GenerationSummary, path: Path):
    return next(f for f in summary.files if Path(f.file).name == path.name)


# --- determinism and layout ------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", START, 2, rows=60, seed=5)
    generate(tmp_path / "b", START, 2, rows=60, seed=5)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    generate(tmp_path / "c", START, 2, rows=60, seed=6)
    c = _files(tmp_path / "c")
    first = "registration/2026-11-20/registration_20261120.csv"
    assert a[first] != c[first]


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    params = json.loads((SAMPLES / SUMMARY_FILE).read_text(encoding="utf-8"))["parameters"]
    generate(tmp_path, date.fromisoformat(params["start"]), params["days"], params["rows"], params["seed"],
             params["defect_rate"])
    assert _files(tmp_path) == _files(SAMPLES), "regenerate samples/landing (see its _generation.json)"
    assert sum(len(v) for v in _files(SAMPLES).values()) < 2_000_000


def test_every_day_folder_is_closed_by_an_empty_done_written_last(landing) -> None:
    root, summary = landing
    for feed in FEEDS:
        for i in range(DAYS):
            folder = root / feed / _day(i)
            done = folder / DONE_MARKER
            assert done.is_file() and done.stat().st_size == 0
            data = [p for p in folder.iterdir() if p.name != DONE_MARKER]
            assert data, folder
            assert all(p.stat().st_mtime_ns <= done.stat().st_mtime_ns for p in data)
            assert not (folder / SUMMARY_FILE).exists()
    assert (root / SUMMARY_FILE).is_file()
    assert GenerationSummary.read(root) == summary
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*")
               if p.is_file() and p.name not in (DONE_MARKER, SUMMARY_FILE)}
    assert {f.file for f in summary.files} == on_disk
    for spec in all_specs():   # every file kind of every spec, every day (penalty: one per department)
        for kind in spec.files:
            for i in range(DAYS):
                assert any(f.day == _day(i) and kind.matches(Path(f.file).name) for f in summary.files), \
                    (spec.feed, kind.name, _day(i))


def test_existing_day_folder_is_refused_not_overwritten(tmp_path: Path) -> None:
    generate(tmp_path, START, 1, rows=10, seed=1, feeds=["judicial"])
    with pytest.raises(FileExistsError, match="already exists"):
        generate(tmp_path, START, 1, rows=10, seed=1, feeds=["judicial"])


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--out", str(tmp_path), "--start", "2026-11-20", "--days", "1", "--rows", "20",
            "--seed", "3", "--defect-rate", "0.1"]
    assert main(argv) == 0
    files = sum(p.is_file() and p.name not in (DONE_MARKER, SUMMARY_FILE) for p in tmp_path.rglob("*"))
    assert files >= sum(len(spec.files) for spec in all_specs())
    assert f"wrote {files} files" in capsys.readouterr().out
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err


# --- defect accounting ----------------------------------------------------------------------


def test_summary_records_every_defect_class_per_feed_and_day(landing) -> None:
    root, summary = landing
    assert set(summary.defects()) == {
        "bad_uscc_check", "malformed_uscc", "missing_required", "bad_date", "bad_amount", "unknown_enum",
        "duplicate_key", "bad_resident_id", "unknown_authority", "bad_org_code", "bad_registration_number",
        "undecodable_bytes", "bad_year_month",
    }
    assert {"fullwidth", "lowercase", "whitespace", "register_anomaly"} <= set(summary.variants())
    assert "bad_uscc_check" not in summary.defects("registration")
    data = json.loads((root / SUMMARY_FILE).read_text(encoding="utf-8"))
    totals = data["defect_totals"]
    assert set(totals) == set(FEEDS)
    for feed in FEEDS:
        for i in range(DAYS):
            assert totals[feed][_day(i)] == dict(summary.defects(feed, _day(i)))


# --- registration ----------------------------------------------------------------------------


def test_registration_format_and_identifiers(landing) -> None:
    root, summary = landing
    seen_addresses, prefixes = [], set()
    for i in range(DAYS):
        path = root / "registration" / _day(i) / f"registration_{_day(i).replace('-', '')}.csv"
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (i % 2 == 0)
        stats = _summary_of(summary, path)
        assert _encoding_of(path, stats.defects.get("undecodable_bytes", 0)) == "utf-8"
        header, rows = _csv_rows(path, "utf-8")
        assert header == ["TYSHXYDM", "ZTMC", "ZTLX", "ZCH", "ZZJGDM", "FDDBR", "CLRQ", "DJJG", "ZS", "DJZT",
                          "ZXRQ", "GXSJ"]
        assert len(rows) == stats.rows
        codes = [normalise(r["TYSHXYDM"]) for r in rows if r["TYSHXYDM"]]
        failing = sum(not is_valid_uscc(c) for c in codes)
        assert failing == stats.defects.get("malformed_uscc", 0) + stats.variants.get("register_anomaly", 0)
        assert sum(not is_valid_registration_number(r["ZCH"]) for r in rows) == stats.defects.get(
            "bad_registration_number", 0)
        assert sum(not is_valid_org_code(r["ZZJGDM"]) for r in rows) == stats.defects.get("bad_org_code", 0)
        assert all(r["ZZJGDM"].replace("-", "") == normalise(r["TYSHXYDM"])[8:17]
                   for r in rows if is_valid_org_code(r["ZZJGDM"]) and is_valid_uscc(normalise(r["TYSHXYDM"])))
        seen_addresses += [r["ZS"] for r in rows]
        prefixes |= {c[:2] for c in codes}
        if i > 0:
            assert {"吊销", "注销"} & {r["DJZT"] for r in rows if r["ZXRQ"]} or len(rows) < 10
    assert any("\n" in a for a in seen_addresses)
    assert any('"' in a and "," in a for a in seen_addresses)
    assert {"91", "92", "N2", "A1", "52", "12"} <= prefixes


# --- penalty ---------------------------------------------------------------------------------


CURRENT_HEADER = [
    "CF_XDR_MC", "CF_XDR_LB", "CF_XDR_SHXYM", "CF_XDR_GSZC", "CF_XDR_ZZJG", "CF_XDR_SWDJ", "CF_XDR_SYDW",
    "CF_XDR_SHZZ", "CF_FRDB", "CF_FR_ZJLX", "CF_FR_ZJHM", "CF_XDR_ZJLX", "CF_XDR_ZJHM", "CF_WSH", "CF_WFXW",
    "CF_SY", "CF_YJ", "CF_CFLB", "CF_NR", "CF_NR_FK", "CF_NR_WFFF", "CF_NR_ZKDX", "CF_JDRQ", "CF_YXQ",
    "CF_GSJZQ", "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM", "BZ", "CZBS",
]
LEGACY_HEADER = [
    "CF_WSH", "CF_CFMC", "CF_CFLB1", "CF_CFLB2", "CF_SY", "CF_YJ", "CF_XDR_MC", "CF_XDR_SHXYM", "CF_XDR_ZDM",
    "CF_XDR_GSDJ", "CF_XDR_SWDJ", "CF_XDR_SFZ", "CF_FR", "CF_JG", "CF_JDRQ", "CF_XZJG", "CF_ZT", "DFBM", "SJC",
    "BZ",
]


def test_penalty_files_field_sets_encodings_and_identifiers(landing) -> None:
    root, summary = landing
    directory = {r["authority_name"] for r in csv.DictReader(DEPARTMENTS.open(encoding="utf-8"))}
    encodings, operations, date_shapes, types = Counter(), Counter(), Counter(), Counter()
    for i in range(DAYS):
        for path in sorted((root / "penalty" / _day(i)).glob("penalty_*.csv")):
            stats = _summary_of(summary, path)
            encoding = _encoding_of(path, stats.defects.get("undecodable_bytes", 0))
            encodings[encoding] += 1
            header, rows = _csv_rows(path, encoding)
            assert len(rows) == stats.rows
            legacy = path.name.startswith("penalty_legacy_")
            assert header == (LEGACY_HEADER if legacy else CURRENT_HEADER)
            uscc = [normalise(r["CF_XDR_SHXYM"]) for r in rows if r["CF_XDR_SHXYM"]]
            assert sum(not is_valid_uscc(c) for c in uscc) == (
                stats.defects.get("bad_uscc_check", 0) + stats.defects.get("malformed_uscc", 0))
            person_ids = [r["CF_XDR_SFZ"] for r in rows] if legacy else [
                r["CF_XDR_ZJHM"] for r in rows if r["CF_XDR_ZJLX"] == "01"]
            assert sum(not is_valid_resident_id(p) for p in person_ids if p) == stats.defects.get(
                "bad_resident_id", 0)
            org = [r["CF_XDR_ZDM" if legacy else "CF_XDR_ZZJG"] for r in rows]
            assert sum(not is_valid_org_code(o) for o in org if o) == stats.defects.get("bad_org_code", 0)
            zch = [r["CF_XDR_GSDJ" if legacy else "CF_XDR_GSZC"] for r in rows]
            assert sum(not is_valid_registration_number(z) for z in zch if z) == stats.defects.get(
                "bad_registration_number", 0)
            keys = Counter((r["CF_XZJG"] if legacy else r["CF_CFJGDM"], r["CF_WSH"]) for r in rows if r["CF_WSH"])
            # corrections (U/D/dispute) repeat a day-0 key in a later file, never twice in one file
            assert sum(n - 1 for n in keys.values()) == stats.defects.get("duplicate_key", 0)
            if legacy:
                assert sum(r["CF_XZJG"] not in directory for r in rows) == stats.defects.get("unknown_authority", 0)
                operations.update(r["CF_ZT"] for r in rows)
            else:
                operations.update(r["CZBS"] for r in rows)
                assert all(is_valid_uscc(r["CF_CFJGDM"]) for r in rows)
                types.update(t for r in rows for t in r["CF_CFLB"].split(";"))
                for r in rows:
                    fk = r["CF_NR_FK"]
                    if fk and fk.replace(".", "", 1).isdigit():
                        assert float(fk) < 100  # units of 10,000 CNY
            for r in rows:
                d = r["CF_JDRQ"]
                date_shapes["-" if "-" in d else "/" if "/" in d else "digits"] += 1
                if "2099-12-31" in r.get("CF_YXQ", "") or "20991231" in r.get("CF_YXQ", ""):
                    date_shapes["long-term"] += 1
    assert set(encodings) == {"utf-8", "gb18030"}
    assert {"I", "U", "D", "0"} <= set(operations)
    assert {"-", "/", "digits", "long-term"} <= set(date_shapes)
    assert {"警告", "罚款", "吊销许可证件"} <= set(types)


def test_legacy_revocation_and_dispute_use_cf_zt(landing) -> None:
    from credit_dw.generate import penalty
    from credit_dw.generate.plan import Plan
    from credit_dw.generate.subjects import Universe

    plan = Plan(Path("."), START, DAYS, 300, 11, 0.0, Universe(11, 300, DAYS, START))
    j = next(j for j in range(300) if penalty._record(plan, j)["_dept"] >= len(penalty._CURRENT))
    assert penalty._legacy_row(penalty._amend(penalty._record(plan, j), "D", START))["CF_ZT"] == "1"
    assert penalty._legacy_row(penalty._amend(penalty._record(plan, j), "disputed", START))["CF_ZT"] == "2"


def test_penalty_corrections_refer_to_earlier_decisions(landing) -> None:
    root, _ = landing
    first = set()
    for path in (root / "penalty" / _day(0)).glob("penalty_[!l]*.csv"):
        _, rows = _csv_rows(path, _encoding_of(path, path.read_bytes().count(BAD_BYTES)))
        first |= {(r["CF_CFJGDM"], r["CF_WSH"]) for r in rows}
    later = []
    for i in range(1, DAYS):
        for path in (root / "penalty" / _day(i)).glob("penalty_[!l]*.csv"):
            _, rows = _csv_rows(path, _encoding_of(path, path.read_bytes().count(BAD_BYTES)))
            later += [(r["CF_CFJGDM"], r["CF_WSH"]) for r in rows if r["CZBS"] in ("U", "D")]
    assert later
    assert all(key in first for key in later if key[1])


# --- judicial --------------------------------------------------------------------------------


def _snapshot(root: Path, i: int) -> list[dict]:
    path = root / "judicial" / _day(i) / f"judicial_{_day(i).replace('-', '')}.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines() if BAD_BYTES not in line]


def test_judicial_snapshot_evolves_day_to_day(landing) -> None:
    root, summary = landing
    snapshots = [_snapshot(root, i) for i in range(DAYS)]
    for snap in snapshots:
        assert set(snap[0]) == {
            "caseCode", "iname", "cardNum", "partyType", "sexy", "age", "businessEntity", "courtName",
            "areaName", "gistId", "gistUnit", "duty", "performance", "performedPart", "unperformPart",
            "disruptTypeName", "regDate", "publishDate", "listType"}
    for i, snap in enumerate(snapshots):
        per_key = Counter((e["caseCode"], e["iname"], e["cardNum"], e["listType"]) for e in snap if e["iname"])
        assert sum(n - 1 for n in per_key.values()) == summary.defects("judicial", _day(i))["duplicate_key"]
    keys = [{(e["caseCode"], e["iname"], e["listType"]) for e in snap} for snap in snapshots]
    for before, after in pairwise(keys):
        assert before - after, "some listings must be removed"
        assert after - before, "some listings must be new"
        assert len(before & after) > 0.8 * len(before)
    by_key = [{(e["caseCode"], e["iname"], e["listType"]): e for e in snap} for snap in snapshots]
    changed = [k for k in by_key[0].keys() & by_key[-1].keys()
               if by_key[0][k]["performance"] == "全部未履行" and by_key[-1][k]["performance"] == "部分未履行"]
    assert changed
    people = [e for e in snapshots[0] if e["partyType"] == "自然人"]
    assert people and all(is_masked_id(e["cardNum"]) and e["cardNum"][:2] == "32" for e in people)
    orgs = [normalise(e["cardNum"]) for e in snapshots[0] if e["partyType"] == "法人"]
    stats = summary.defects("judicial", _day(0))
    assert sum(not is_valid_uscc(c) for c in orgs) == stats["bad_uscc_check"] + stats["malformed_uscc"]


# --- tax -------------------------------------------------------------------------------------


def _taxpayer_ok(number: str) -> bool:
    n = normalise(number)
    return (is_valid_uscc(n) or is_valid_resident_id(n)
            or (len(n) == 15 and n[:6].isdigit() and is_valid_org_code(n[6:]))
            or (len(n) == 20 and is_valid_resident_id(n[:18]) and n[18:].isdigit()))


def test_tax_files_are_gb18030_with_exact_headers(landing) -> None:
    root, summary = landing
    withdrawn = 0
    for i in range(DAYS):
        stamp = _day(i).replace("-", "")
        for name, header in (
            (f"zdsswf_{stamp}.csv", ["NSRSBH", "NSRMC", "ZCDZ", "FDDBR_XM", "FDDBR_XB", "FDDBR_ZJHM", "AJXZ",
                                     "ZYWFSS", "CLCFQK", "WSH", "SWJG", "SWJGDM", "GBRQ", "CCRQ", "ZT"]),
            (f"nsxy_{stamp}.csv", ["NSRSBH", "NSRMC", "PJND", "XYJB", "PJRQ"]),
        ):
            path = root / "tax" / _day(i) / name
            stats = _summary_of(summary, path)
            assert _encoding_of(path, stats.defects.get("undecodable_bytes", 0)) == "gb18030"
            got, rows = _csv_rows(path, "gb18030")
            assert got == header
            assert len(rows) == stats.rows
            failing = sum(not _taxpayer_ok(r["NSRSBH"]) for r in rows if r["NSRSBH"])
            assert failing == stats.defects.get("bad_uscc_check", 0) + stats.defects.get("malformed_uscc", 0)
            if name.startswith("zdsswf") and i > 0:
                withdrawn += sum(r["ZT"] == "已撤出" and r["CCRQ"] == _day(i - 1) for r in rows)
    assert withdrawn


# --- social insurance ------------------------------------------------------------------------


def test_social_insurance_workbook(landing) -> None:
    root, summary = landing
    arrears = set()
    settled = []
    for i in range(DAYS):
        path = root / "social_insurance" / _day(i) / f"social_insurance_{_day(i).replace('-', '')}.xlsx"
        stats = _summary_of(summary, path)
        wb = load_workbook(path, read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
        assert list(rows[0]) == ["单位名称", "统一社会信用代码", "险种", "欠缴金额（元）", "欠缴起始年月",
                                 "欠缴截止年月", "文书类型", "文书号", "认定部门", "认定部门代码", "认定日期",
                                 "状态", "更新日期"]
        data = rows[1:]
        assert len(data) == stats.rows
        codes = [normalise(r[1]) for r in data if r[1]]
        assert sum(not is_valid_uscc(c) for c in codes) == (
            stats.defects.get("bad_uscc_check", 0) + stats.defects.get("malformed_uscc", 0))
        bad_months = sum(not _year_month_ok(r[4]) or not _year_month_ok(r[5]) for r in data)
        assert bad_months == stats.defects.get("bad_year_month", 0)
        if i == 0:
            arrears = {(r[9], r[7], r[2]) for r in data if r[11] == "欠缴"}
        else:
            settled += [(r[9], r[7], r[2]) for r in data if r[11] in ("已补缴", "已撤销")]
    assert settled and all(key in arrears for key in settled)


def _year_month_ok(value: object) -> bool:
    text = str(value)
    return len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() and 1 <= int(text[5:]) <= 12


# --- reference data --------------------------------------------------------------------------


def test_department_directory_codes_are_valid_organ_usccs() -> None:
    rows = list(csv.DictReader(DEPARTMENTS.open(encoding="utf-8")))
    divisions = {r["division_code"] for r in csv.DictReader(DIVISIONS.open(encoding="utf-8"))}
    assert len(rows) >= 30
    assert len({r["authority_code"] for r in rows}) == len({r["authority_name"] for r in rows}) == len(rows)
    for r in rows:
        assert is_valid_uscc(r["authority_code"]) and r["authority_code"].startswith("11"), r
        assert is_valid_org_code(r["authority_code"][8:17]), r
        assert r["authority_code"][2:8] in divisions, r
    assert {"market_regulation", "tax", "human_resources", "housing_fund", "ecology", "court"} <= {
        r["department_type"] for r in rows}


def test_admin_divisions_seed() -> None:
    rows = list(csv.DictReader(DIVISIONS.open(encoding="utf-8")))
    assert len({r["division_code"] for r in rows}) == len(rows)
    levels = Counter(r["level"] for r in rows)
    assert levels["province"] == 34
    jiangsu = [r for r in rows if r["province_code"] == "320000"]
    assert sum(r["level"] == "city" for r in jiangsu) == 13
    assert sum(r["level"] == "county" for r in jiangsu) >= 60
    for r in jiangsu:
        if r["level"] == "county":
            assert r["division_code"][:4] == r["city_code"][:4]


def test_sample_nights_are_staged_in_order_as_the_nights_ending_with_the_given_day(tmp_path) -> None:
    from datetime import date

    from credit_dw.commands.demo import SAMPLES, stage_samples_as_recent

    nights = stage_samples_as_recent(SAMPLES, tmp_path, date(2030, 1, 10))
    sample_days = sorted({d.parent.name for d in SAMPLES.glob("*/*/_DONE")})
    assert nights == [date(2030, 1, 10 - len(sample_days) + 1 + i) for i in range(len(sample_days))]
    for sample_day, night in zip(sample_days, nights, strict=True):
        for done in SAMPLES.glob(f"*/{sample_day}/_DONE"):
            staged = tmp_path / done.parent.parent.name / night.isoformat()
            assert (staged / "_DONE").is_file()
            assert sorted(f.name for f in staged.iterdir()) == sorted(f.name for f in done.parent.iterdir())
