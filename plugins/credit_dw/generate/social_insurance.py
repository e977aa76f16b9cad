"""social_insurance (社保 and 住房公积金 arrears): one XLSX per day, first sheet, Chinese header.

Day 0 carries ``rows`` records, later days about 5 % new ones plus re-sent day-0 records whose
state changed (欠缴 -> 已补缴 or 已撤销); the key is department code + document number +
insurance type, and a quarter of the documents cover two insurance types (two rows).
Cell types follow what office exports do: amounts are numbers, 认定日期 is a date cell,
年月 and 更新日期 are text.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate.defects import Defect, Tally
from credit_dw.generate.plan import Plan
from credit_dw.generate.rng import EventSchedule, random_date, rng
from credit_dw.generate.vocab import departments_of
from credit_dw.generate.writers import XlsxWriter

FEED = "social_insurance"
HEADER = [
    "单位名称", "统一社会信用代码", "险种", "欠缴金额（元）", "欠缴起始年月", "欠缴截止年月", "文书类型",
    "文书号", "认定部门", "认定部门代码", "认定日期", "状态", "更新日期",
]
SHEET = "欠缴信息"
_PENSION_TYPES = ("企业职工基本养老保险", "失业保险", "工伤保险", "职工基本医疗保险")
_DOCUMENTS = (("限期缴纳通知", "限缴"), ("限期缴纳通知", "限缴"), ("行政处罚决定", "罚"), ("严重失信名单认定", "失信"))
_CITY_ABBR = {"320000": "苏", "320100": "宁", "320400": "常", "320500": "苏"}
_APPLICABLE = [Defect.BAD_USCC_CHECK, Defect.MALFORMED_USCC, Defect.MISSING_REQUIRED, Defect.BAD_DATE,
               Defect.BAD_AMOUNT, Defect.UNKNOWN_ENUM, Defect.DUPLICATE_KEY, Defect.BAD_YEAR_MONTH]
_UNITS = ("企业", "事业单位", "社会组织", "农民专业合作社")


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    name = f"social_insurance_{delivery:%Y%m%d}.xlsx"
    tally = Tally()
    per_day = plan.share(0.05)
    new = range(plan.rows) if day == 0 else range(plan.rows + (day - 1) * per_day, plan.rows + day * per_day)
    settled = EventSchedule(plan.seed, "si-settlement", plan.rows, plan.share(0.03), plan.days)
    with XlsxWriter(folder / name, SHEET, HEADER) as out:
        for s in new:
            for k, row in enumerate(_rows(plan, s)):
                _emit(plan, out, tally, row, rng(plan.seed, "si-defect", s, k))
        for s in settled.on_day(day):
            for k, row in enumerate(_rows(plan, s)):
                if rng(plan.seed, "si-defect", s, k).random() < plan.defect_rate or row[11] != "欠缴":
                    continue
                row[11] = "已撤销" if rng(plan.seed, "si-event", s).random() < 0.2 else "已补缴"
                row[12] = (delivery - timedelta(days=1)).isoformat()
                _emit(plan, out, tally, row, rng(plan.seed, "si-event-defect", day, s, k))
    return {name: tally}


def _rows(plan: Plan, s: int) -> list[list]:
    """The one or two rows of document ``s`` (one per insurance type)."""
    r = rng(plan.seed, "si", s)
    day = 0 if s < plan.rows else 1 + (s - plan.rows) // plan.share(0.05)
    delivery = plan.delivery(day)
    subject = plan.universe.pick(r, day, _UNITS)
    housing = r.random() < 0.3
    dept = r.choice(departments_of("housing_fund" if housing else "human_resources"))
    kinds = ("住房公积金",) if housing else tuple(r.sample(_PENSION_TYPES, 2 if r.random() < 0.25 else 1))
    decided = (random_date(r, date(2020, 1, 1), delivery - timedelta(days=2)) if day == 0
               else delivery - timedelta(days=r.randint(1, 10)))
    end = date(decided.year, decided.month, 1) - timedelta(days=1)
    begin = date(end.year - r.randint(0, 2), r.randint(1, 12), 1)
    begin = min(begin, date(end.year, end.month, 1))
    doc_type, doc_abbr = r.choice(_DOCUMENTS)
    issuer = _CITY_ABBR.get(dept.division, "苏") + ("公积金" if housing else "人社")
    document = f"{issuer}{doc_abbr}〔{decided.year}〕{s + 1}号"
    status = "欠缴" if day > 0 or r.random() < 0.85 else r.choice(("已补缴", "已撤销"))
    updated = decided if status == "欠缴" else random_date(r, decided, delivery - timedelta(days=1))
    return [
        [subject.name, subject.uscc, kind, round(r.randint(50_000, 50_000_000) / 100, 2),
         f"{begin:%Y-%m}", f"{end:%Y-%m}", doc_type, document, dept.name, dept.code,
         datetime(decided.year, decided.month, decided.day), status, updated.isoformat()]
        for kind in kinds
    ]


def _emit(plan: Plan, out: XlsxWriter, tally: Tally, row: list, r: random.Random) -> None:
    defect = dx.choose(r, plan.defect_rate, _APPLICABLE)
    if defect is None:
        row[1], variant = dx.vary(r, plan.defect_rate, row[1])
        if variant:
            tally.variants[variant] += 1
    else:
        tally.defects[defect] += 1
        _corrupt(r, defect, row)
    out.write(row)
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        out.write([*row[:3], row[3] + 100, *row[4:]])
        tally.rows += 1


def _corrupt(r: random.Random, defect: Defect, row: list) -> None:
    if defect is Defect.BAD_USCC_CHECK:
        row[1] = dx.bad_check_uscc(row[1], r)
    elif defect is Defect.MALFORMED_USCC:
        row[1] = dx.malformed_uscc(row[1], r)
    elif defect is Defect.MISSING_REQUIRED:
        row[r.choice((1, 7))] = None
    elif defect is Defect.BAD_DATE:
        row[10] = dx.bad_date(r)  # a text cell that is no date
    elif defect is Defect.BAD_AMOUNT:
        row[3] = dx.bad_amount(r)
    elif defect is Defect.UNKNOWN_ENUM:
        if r.random() < 0.5:
            row[2] = "大病保险"
        else:
            row[11] = "部分补缴"
    elif defect is Defect.BAD_YEAR_MONTH:
        row[r.choice((4, 5))] = dx.bad_year_month(r)
