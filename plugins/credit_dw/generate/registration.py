"""registration (登记注册基本信息): day 0 is the master list, later days are deltas.

A delta holds the subjects first registered that day and the scheduled changes of earlier
subjects (rename, new address, 吊销/注销 with ZXRQ, 迁出). Days alternate with and without a
UTF-8 BOM. Register anomalies (USCC failing its check) are legitimate here and counted as
variants, never as defects.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate.defects import Defect, Tally, Variant
from credit_dw.generate.plan import Plan
from credit_dw.generate.rng import random_time_on, rng
from credit_dw.generate.subjects import Subject
from credit_dw.generate.writers import BAD_MARK, CsvWriter

FEED = "registration"
HEADER = ["TYSHXYDM", "ZTMC", "ZTLX", "ZCH", "ZZJGDM", "FDDBR", "CLRQ", "DJJG", "ZS", "DJZT", "ZXRQ", "GXSJ"]
_APPLICABLE = [
    Defect.MALFORMED_USCC, Defect.MISSING_REQUIRED, Defect.BAD_DATE, Defect.UNKNOWN_ENUM,
    Defect.DUPLICATE_KEY, Defect.BAD_ORG_CODE, Defect.BAD_REGISTRATION_NUMBER, Defect.UNDECODABLE_BYTES,
]


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    name = f"registration_{delivery:%Y%m%d}.csv"
    tally = Tally()
    universe = plan.universe
    with CsvWriter(folder / name, HEADER, "utf-8", bom=day % 2 == 0) as out:
        position = 0
        for index in universe.new_on(day):
            subject = universe.subject(index)
            gxsj = _initial_update_time(plan, subject) if day == 0 else _delta_time(plan, index, delivery)
            row = _row(subject, subject.name, subject.address, subject.status, subject.closed, gxsj)
            _emit(plan, out, tally, day, position, row, subject)
            position += 1
        for index in universe.changes.on_day(day):
            subject = universe.subject(index)
            _, kind = universe.change(index)
            gxsj = _delta_time(plan, index, delivery)
            name_, addr, status, closed = subject.name, subject.address, subject.status, subject.closed
            if kind == "rename":
                name_ = universe.renamed(subject)
            elif kind == "move":
                addr = universe.moved(subject)
            elif kind == "迁出":
                status = "迁出"
            else:
                status, closed = kind, gxsj.date()
            _emit(plan, out, tally, day, position, _row(subject, name_, addr, status, closed, gxsj), subject)
            position += 1
    return {name: tally}


def _initial_update_time(plan: Plan, subject: Subject):
    r = rng(plan.seed, "registration-gxsj", subject.index)
    last = plan.start - timedelta(days=1)
    first = max(subject.founded, subject.closed or subject.founded)
    return random_time_on(r, first + timedelta(days=r.randint(0, max((last - first).days, 0))))


def _delta_time(plan: Plan, index: int, delivery: date):
    return random_time_on(rng(plan.seed, "registration-delta", index, delivery.toordinal()),
                          delivery - timedelta(days=1))


def _row(subject: Subject, name: str, address: str, status: str, closed: date | None, gxsj) -> list[str]:
    org = subject.org_code
    shown_org = f"{org[:8]}-{org[8]}" if subject.index % 5 < 2 else org
    return [
        subject.uscc, name, subject.kind, subject.registration_number, shown_org, subject.legal_rep,
        subject.founded.isoformat(), subject.authority, address, status,
        closed.isoformat() if closed else "", gxsj.strftime("%Y-%m-%d %H:%M:%S"),
    ]


def _emit(plan: Plan, out: CsvWriter, tally: Tally, day: int, position: int, row: list[str],
          subject: Subject) -> None:
    r = rng(plan.seed, "registration-defect", day, position)
    defect = None if subject.anomaly else dx.choose(r, plan.defect_rate, _APPLICABLE)
    if subject.anomaly:
        tally.variants[Variant.REGISTER_ANOMALY] += 1
    elif defect is None:
        row[0], variant = dx.vary(r, plan.defect_rate, row[0])
        if variant:
            tally.variants[variant] += 1
    if defect is not None:
        tally.defects[defect] += 1
        _corrupt(r, defect, row)
    out.write(row)
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        out.write([*row[:8], row[8] + "（重复）", *row[9:]])
        tally.rows += 1


def _corrupt(r: random.Random, defect: Defect, row: list[str]) -> None:
    if defect is Defect.MALFORMED_USCC:
        row[0] = dx.malformed_uscc(row[0], r)
    elif defect is Defect.MISSING_REQUIRED:
        row[r.choice((0, 1))] = ""
    elif defect is Defect.BAD_DATE:
        row[6] = dx.bad_date(r)
    elif defect is Defect.UNKNOWN_ENUM:
        if r.random() < 0.5:
            row[9] = "不明"
        else:
            row[2] = "其他"
    elif defect is Defect.BAD_ORG_CODE:
        row[4] = dx.bad_org_code(row[4])
    elif defect is Defect.BAD_REGISTRATION_NUMBER:
        row[3] = dx.bad_check_digit(row[3])
    elif defect is Defect.UNDECODABLE_BYTES:
        row[1] = row[1][:2] + BAD_MARK + row[1][2:]
