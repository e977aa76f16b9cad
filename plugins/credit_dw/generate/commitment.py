"""commitment (信用承诺): a daily UTF-8 CSV delta from the provincial credit commitment system.

Day 0 carries ``rows`` commitments; later days add about 5 % new ones and re-send about 4 % of
the day-0 commitments with a new fulfilment state (履约中 -> 已履约, or 未履约 with the day the
department found the promise broken) and a later 更新时间. Parties are registered subjects
(USCC) and, for about 15 %, natural persons with their ID masked as published lists show it.
Key: 受诺单位代码 + 承诺编号.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate.defects import Defect, Tally
from credit_dw.generate.people import person
from credit_dw.generate.plan import Plan
from credit_dw.generate.rng import EventSchedule, random_date, rng
from credit_dw.generate.vocab import departments
from credit_dw.generate.writers import BAD_MARK, CsvWriter
from credit_dw.identifiers import mask_id

FEED = "commitment"
FIELDS = ["承诺编号", "承诺主体名称", "主体类型", "统一社会信用代码", "证件号码", "承诺类型", "承诺事项", "受诺单位",
          "受诺单位代码", "承诺日期", "承诺期限", "履约状态", "未履约认定日期", "更新时间"]
_TYPES = ("审批替代型", "审批替代型", "容缺受理型", "行业自律型", "信用修复型", "主动型")
_MATTERS = {
    "审批替代型": "以告知承诺方式办理行政许可，承诺符合许可条件并在期限内提交材料",
    "容缺受理型": "申请材料容缺受理，承诺在期限内补齐材料",
    "行业自律型": "遵守行业自律公约，诚信经营",
    "信用修复型": "申请信用修复，承诺不再发生同类失信行为",
    "主动型": "主动向社会公开作出信用承诺",
}
_COMMON = [Defect.MISSING_REQUIRED, Defect.BAD_DATE, Defect.UNKNOWN_ENUM, Defect.DUPLICATE_KEY,
           Defect.UNDECODABLE_BYTES]
_USCC_DEFECTS = [Defect.BAD_USCC_CHECK, Defect.MALFORMED_USCC]


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    path = folder / f"commitment_{plan.delivery(day):%Y%m%d}.csv"
    tally = Tally()
    updates = EventSchedule(plan.seed, "commitment-update", plan.rows, plan.share(0.04), plan.days)
    with CsvWriter(path, FIELDS, "utf-8") as out:
        for c in plan.new_records(day):
            row, is_org = _commitment(plan, c)
            _emit(plan, out, tally, row, is_org, rng(plan.seed, "commitment-defect", c))
        for c in updates.on_day(day):
            if plan.defective("commitment-defect", c):
                continue
            row, is_org = _commitment(plan, c)
            if row["履约状态"] != "履约中":
                continue
            _fulfil(plan, day, c, row)
            _emit(plan, out, tally, row, is_org, rng(plan.seed, "commitment-event-defect", day, c))
    return {path.name: tally}


def _commitment(plan: Plan, c: int) -> tuple[dict[str, str], bool]:
    r = rng(plan.seed, "commitment", c)
    day = 0 if c < plan.rows else 1 + (c - plan.rows) // plan.share(0.05)
    delivery = plan.delivery(day)
    acceptor = r.choice(tuple(d for d in departments() if d.kind != "court"))
    kind = r.choice(_TYPES)
    committed = (random_date(r, date(2023, 1, 1), delivery - timedelta(days=30)) if day == 0
                 else delivery - timedelta(days=r.randint(1, 10)))
    due = committed + timedelta(days=r.choice((90, 180, 365))) if r.random() < 0.8 else None
    is_org = r.random() >= 0.15
    if is_org:
        subject = plan.universe.pick(r, day, ("企业", "个体工商户", "农民专业合作社", "社会组织"))
        name, category = subject.name, "个体工商户" if subject.kind == "个体工商户" else "法人及非法人组织"
        uscc, card = subject.uscc, ""
    else:
        p = person(r)
        name, category, uscc, card = p.name, "自然人", "", mask_id(p.resident_id)
    status, broken = "履约中", ""
    if day == 0 and due is not None and due < delivery:   # the history already decided
        if r.random() < 0.85:
            status = "已履约"
        else:
            status, broken = "未履约", random_date(r, due, delivery - timedelta(days=1)).isoformat()
    updated = datetime.combine(committed if status == "履约中" else delivery - timedelta(days=1),
                               time(r.randint(8, 18), r.randint(0, 59), r.randint(0, 59)))
    return {
        "承诺编号": f"CN{acceptor.division}{committed:%Y}{c + 1:08d}",
        "承诺主体名称": name,
        "主体类型": category,
        "统一社会信用代码": uscc,
        "证件号码": card,
        "承诺类型": kind,
        "承诺事项": _MATTERS[kind],
        "受诺单位": acceptor.name,
        "受诺单位代码": acceptor.code,
        "承诺日期": committed.isoformat(),
        "承诺期限": due.isoformat() if due else "",
        "履约状态": status,
        "未履约认定日期": broken,
        "更新时间": f"{updated:%Y-%m-%d %H:%M:%S}",
    }, is_org


def _fulfil(plan: Plan, day: int, c: int, row: dict[str, str]) -> None:
    """The day's fulfilment decision for an open commitment: mostly kept, some broken."""
    r = rng(plan.seed, "commitment-fulfilment", c)
    found = plan.delivery(day) - timedelta(days=1)
    if r.random() < 0.75:
        row.update({"履约状态": "已履约"})
    else:
        row.update({"履约状态": "未履约", "未履约认定日期": found.isoformat()})
    row["更新时间"] = f"{datetime.combine(found, time(r.randint(8, 18), r.randint(0, 59))):%Y-%m-%d %H:%M:%S}"


def _corrupt(r: random.Random, defect: Defect, row: dict[str, str]) -> None:
    if defect is Defect.MISSING_REQUIRED:
        row[r.choice(("承诺编号", "承诺主体名称", "受诺单位代码"))] = ""
    elif defect is Defect.BAD_DATE:
        row["承诺日期"] = dx.bad_date(r)
    elif defect is Defect.UNKNOWN_ENUM:
        row["履约状态"] = r.choice(("已完成", "违约"))
    elif defect is Defect.UNDECODABLE_BYTES:
        row["承诺主体名称"] = row["承诺主体名称"][:2] + BAD_MARK + row["承诺主体名称"][2:]


def _emit(plan: Plan, out: CsvWriter, tally: Tally, row: dict[str, str], is_org: bool, r: random.Random) -> None:
    defect = dx.choose(r, plan.defect_rate, _COMMON + (_USCC_DEFECTS if is_org else []))
    if defect is None and is_org:
        row["统一社会信用代码"], variant = dx.vary(r, plan.defect_rate, row["统一社会信用代码"])
        if variant:
            tally.variants[variant] += 1
    elif defect is Defect.BAD_USCC_CHECK:
        row["统一社会信用代码"] = dx.bad_check_uscc(row["统一社会信用代码"], r)
    elif defect is Defect.MALFORMED_USCC:
        row["统一社会信用代码"] = dx.malformed_uscc(row["统一社会信用代码"], r)
    elif defect is not None:
        _corrupt(r, defect, row)
    if defect is not None:
        tally.defects[defect] += 1
    out.write(list(row.values()))
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        out.write([f"{v}（重复）" if k == "承诺主体名称" else v for k, v in row.items()])
        tally.rows += 1
