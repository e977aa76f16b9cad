"""tax: two GB18030 CSV files per day, major violators (zdsswf) and credit ratings (nsxy).

Both are deltas keyed as DOMAIN.md says. Day 0 carries ``rows`` records of each; later days
add about 5 % new records and re-send about 3 % of the day-0 records with a new state:
violators leave publication (ZT 公布中 -> 已撤出 with CCRQ), ratings are revised.
Taxpayer numbers are mostly USCCs; about 15 % of violators carry a legacy number: 15 chars
(division code + organisation code), 18 digits (the owner's resident ID, individual
businesses) or 20 chars (resident ID + 2-digit sequence).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate.defects import Defect, Tally
from credit_dw.generate.people import person
from credit_dw.generate.plan import Plan
from credit_dw.generate.rng import EventSchedule, random_date, rng
from credit_dw.generate.vocab import departments_of
from credit_dw.generate.writers import BAD_MARK, CsvWriter
from credit_dw.identifiers import mask_id, uscc_shape_ok

FEED = "tax"
VIOLATOR_FIELDS = ["NSRSBH", "NSRMC", "ZCDZ", "FDDBR_XM", "FDDBR_XB", "FDDBR_ZJHM", "AJXZ", "ZYWFSS", "CLCFQK",
                   "WSH", "SWJG", "SWJGDM", "GBRQ", "CCRQ", "ZT"]
RATING_FIELDS = ["NSRSBH", "NSRMC", "PJND", "XYJB", "PJRQ"]
_CASES = ("偷税", "偷税", "逃避追缴欠税", "骗取出口退税", "抗税", "虚开增值税专用发票", "虚开普通发票")
_LEVELS = ("A",) * 14 + ("B",) * 3 + ("M",) * 2 + ("C", "D")
_CITY_ABBR = {"320000": "苏", "320100": "宁", "320200": "锡", "320500": "苏州"}
_COMMON = [Defect.MISSING_REQUIRED, Defect.BAD_DATE, Defect.UNKNOWN_ENUM, Defect.DUPLICATE_KEY,
           Defect.UNDECODABLE_BYTES]
_USCC_DEFECTS = [Defect.BAD_USCC_CHECK, Defect.MALFORMED_USCC]


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    return {
        **_write_violators(plan, day, folder / f"zdsswf_{delivery:%Y%m%d}.csv"),
        **_write_ratings(plan, day, folder / f"nsxy_{delivery:%Y%m%d}.csv"),
    }


# --- zdsswf: major tax violators -------------------------------------------------------------

def _write_violators(plan: Plan, day: int, path: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    tally = Tally()
    removals = EventSchedule(plan.seed, "tax-violator-removal", plan.rows, plan.share(0.03), plan.days)
    with CsvWriter(path, VIOLATOR_FIELDS, "gb18030") as out:
        for t in plan.new_records(day):
            row, is_uscc = _violator(plan, t)
            _emit(plan, out, tally, row, is_uscc, rng(plan.seed, "tax-violator-defect", t), _violator_corrupt)
        for t in removals.on_day(day):
            if plan.defective("tax-violator-defect", t):
                continue
            row, is_uscc = _violator(plan, t)
            if row["ZT"] != "公布中":
                continue
            row.update(ZT="已撤出", CCRQ=(delivery - timedelta(days=1)).isoformat())
            _emit(plan, out, tally, row, is_uscc, rng(plan.seed, "tax-violator-event-defect", day, t),
                  _violator_corrupt)
    return {path.name: tally}


def _violator(plan: Plan, t: int) -> tuple[dict, bool]:
    r = rng(plan.seed, "tax-violator", t)
    day = 0 if t < plan.rows else 1 + (t - plan.rows) // plan.share(0.05)
    delivery = plan.delivery(day)
    subject = plan.universe.pick(r, day, ("企业", "个体工商户"))
    rep = replace(person(r), name=subject.legal_rep)
    number, is_uscc = subject.uscc, True
    if r.random() < 0.15:
        is_uscc = False
        if subject.kind == "个体工商户":
            number = rep.resident_id if r.random() < 0.5 else rep.resident_id + f"{r.randint(1, 99):02d}"
        else:
            number = subject.county.code + subject.org_code
    authority = r.choice(departments_of("tax"))
    decided = (random_date(r, date(2021, 1, 1), delivery - timedelta(days=20)) if day == 0
               else delivery - timedelta(days=r.randint(20, 45)))
    published = date(decided.year + decided.month // 12, decided.month % 12 + 1, r.randint(1, 15))
    published = min(published, delivery - timedelta(days=1))
    left = day == 0 and r.random() < 0.1
    evaded = r.randint(100_000, 20_000_000)
    case = r.choice(_CASES)
    start_year = decided.year - r.randint(1, 3)
    row = {
        "NSRSBH": number,
        "NSRMC": subject.name,
        "ZCDZ": subject.address.replace("\n", ""),
        "FDDBR_XM": subject.legal_rep,
        "FDDBR_XB": rep.sex,
        "FDDBR_ZJHM": mask_id(rep.resident_id),
        "AJXZ": case,
        "ZYWFSS": f"经{authority.name}检查，发现其在{start_year}年01月01日至{decided.year - 1}年12月31日期间，"
                  f"主要存在以下问题：{case}，少缴税款{evaded}元。",
        "CLCFQK": f"对其{case}行为处以少缴税款{r.choice(('0.5', '1', '1.5', '2'))}倍的罚款，"
                  f"追缴税款{evaded}元并加收滞纳金。",
        "WSH": f"{_CITY_ABBR.get(authority.division, '苏')}税稽罚〔{decided.year}〕{t + 1}号",
        "SWJG": authority.name,
        "SWJGDM": f"1{authority.division}0000",  # 11-digit tax authority code, e.g. 13201000000
        "GBRQ": published.isoformat(),
        "CCRQ": random_date(r, published, delivery - timedelta(days=1)).isoformat() if left else "",
        "ZT": "已撤出" if left else "公布中",
    }
    return row, is_uscc


def _violator_corrupt(r: random.Random, defect: Defect, row: dict) -> None:
    if defect is Defect.MISSING_REQUIRED:
        row[r.choice(("NSRSBH", "WSH", "NSRMC"))] = ""
    elif defect is Defect.BAD_DATE:
        row["GBRQ"] = dx.bad_date(r)
    elif defect is Defect.UNKNOWN_ENUM:
        row["ZT"] = r.choice(("已公示", "撤出中"))
    elif defect is Defect.UNDECODABLE_BYTES:
        row["NSRMC"] = row["NSRMC"][:2] + BAD_MARK + row["NSRMC"][2:]


# --- nsxy: tax credit ratings ----------------------------------------------------------------

def _write_ratings(plan: Plan, day: int, path: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    tally = Tally()
    revisions = EventSchedule(plan.seed, "tax-rating-revision", plan.rows, plan.share(0.02), plan.days)
    with CsvWriter(path, RATING_FIELDS, "gb18030") as out:
        for t in plan.new_records(day):
            row = _rating(plan, t)
            if row is not None:
                _emit(plan, out, tally, row, True, rng(plan.seed, "tax-rating-defect", t), _rating_corrupt)
        for t in revisions.on_day(day):
            row = _rating(plan, t)
            if row is None or plan.defective("tax-rating-defect", t):
                continue
            row.update(XYJB="D" if row["XYJB"] != "D" else "C", PJRQ=(delivery - timedelta(days=1)).isoformat())
            _emit(plan, out, tally, row, True, rng(plan.seed, "tax-rating-event-defect", day, t),
                  _rating_corrupt)
    return {path.name: tally}


def _rating(plan: Plan, t: int) -> dict | None:
    """Rating ``t`` is subject ``t // 4`` for one of the four previous years: keys never collide."""
    subject = plan.universe.subject(t // 4)
    if subject.anomaly or subject.kind not in ("企业", "个体工商户", "农民专业合作社"):
        return None
    r = rng(plan.seed, "tax-rating", t)
    year = plan.start.year - 1 - t % 4
    return {
        "NSRSBH": subject.uscc,
        "NSRMC": subject.name,
        "PJND": str(year),
        "XYJB": r.choice(_LEVELS),
        "PJRQ": date(year + 1, 4, r.randint(1, 30)).isoformat(),
    }


def _rating_corrupt(r: random.Random, defect: Defect, row: dict) -> None:
    if defect is Defect.MISSING_REQUIRED:
        row[r.choice(("NSRSBH", "PJND", "XYJB"))] = ""
    elif defect is Defect.BAD_DATE:
        row["PJRQ"] = dx.bad_date(r)
    elif defect is Defect.UNKNOWN_ENUM:
        row["XYJB"] = r.choice(("E", "A+", "AA"))
    elif defect is Defect.UNDECODABLE_BYTES:
        row["NSRMC"] = row["NSRMC"][:2] + BAD_MARK + row["NSRMC"][2:]


# --- shared --------------------------------------------------------------------------------------

def _emit(plan: Plan, out: CsvWriter, tally: Tally, row: dict, is_uscc: bool, r: random.Random,
          corrupt) -> None:
    defect = dx.choose(r, plan.defect_rate, _COMMON + (_USCC_DEFECTS if is_uscc else []))
    if defect is None and is_uscc:
        row["NSRSBH"], variant = dx.vary(r, plan.defect_rate, row["NSRSBH"])
        if variant:
            tally.variants[variant] += 1
    elif defect is Defect.BAD_USCC_CHECK:
        row["NSRSBH"] = dx.bad_check_uscc(row["NSRSBH"], r)
    elif defect is Defect.MALFORMED_USCC:
        row["NSRSBH"] = _malformed_taxpayer(row["NSRSBH"], r)
    elif defect is not None:
        corrupt(r, defect, row)
    if defect is not None:
        tally.defects[defect] += 1
    values = list(row.values())
    out.write(values)
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        out.write([f"{v}（重复）" if k == "NSRMC" else v for k, v in row.items()])
        tally.rows += 1


def _malformed_taxpayer(code: str, r: random.Random) -> str:
    """Malformed for every accepted shape: 17 or 19 characters, or a letter outside the set."""
    bad = dx.malformed_uscc(code, r)
    while len(bad) in (15, 20) or (len(bad) == 18 and uscc_shape_ok(bad)):
        bad = dx.malformed_uscc(code, r)
    return bad
