"""penalty (行政处罚): one CSV per department per day, current or older field set.

Record ``j`` belongs to day ``j // rows``; every record is a pure function of ``(seed, j)``, so
the corrections (``CZBS=U``), revocations (``D``) and disputes of earlier decisions that arrive
on later days regenerate the original and change it. Departments not yet migrated send the
older field set (``penalty_legacy_*``) naming their authority only by name (``CF_XZJG``).
Encodings are fixed per department and undeclared: GB18030, UTF-8, or UTF-8 with BOM.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate import penalty_content as pc
from credit_dw.generate.defects import Defect, Tally
from credit_dw.generate.people import person, shared_person
from credit_dw.generate.plan import DATE_FORMATS, LONG_TERM, Plan
from credit_dw.generate.rng import EventSchedule, random_date, random_time_on, rng
from credit_dw.generate.vocab import Department, department
from credit_dw.generate.writers import BAD_MARK, CsvWriter

FEED = "penalty"
CURRENT_FIELDS = [
    "CF_XDR_MC", "CF_XDR_LB", "CF_XDR_SHXYM", "CF_XDR_GSZC", "CF_XDR_ZZJG", "CF_XDR_SWDJ", "CF_XDR_SYDW",
    "CF_XDR_SHZZ", "CF_FRDB", "CF_FR_ZJLX", "CF_FR_ZJHM", "CF_XDR_ZJLX", "CF_XDR_ZJHM", "CF_WSH", "CF_WFXW",
    "CF_SY", "CF_YJ", "CF_CFLB", "CF_NR", "CF_NR_FK", "CF_NR_WFFF", "CF_NR_ZKDX", "CF_JDRQ", "CF_YXQ",
    "CF_GSJZQ", "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM", "BZ", "CZBS",
]
LEGACY_FIELDS = [
    "CF_WSH", "CF_CFMC", "CF_CFLB1", "CF_CFLB2", "CF_SY", "CF_YJ", "CF_XDR_MC", "CF_XDR_SHXYM", "CF_XDR_ZDM",
    "CF_XDR_GSDJ", "CF_XDR_SWDJ", "CF_XDR_SFZ", "CF_FR", "CF_JG", "CF_JDRQ", "CF_XZJG", "CF_ZT", "DFBM", "SJC",
    "BZ",
]

# (authority name, encoding, BOM, decision-number prefix, share weight)
_CURRENT = (
    ("南京市市场监督管理局", "gb18030", False, "宁市监处罚", 5),
    ("苏州市市场监督管理局", "utf-8", False, "苏市监罚", 4),
    ("南京市江宁区市场监督管理局", "utf-8", True, "宁江市监罚", 2),
    ("南京市生态环境局", "gb18030", False, "宁环罚", 2),
    ("南京市应急管理局", "utf-8", False, "宁应急罚", 1),
    ("南京市交通运输局", "gb18030", False, "宁交罚", 1),
    ("南京市城市管理局", "utf-8", False, "宁城管罚", 1),
    ("南京市卫生健康委员会", "gb18030", False, "宁卫罚", 1),
)
_LEGACY = (
    ("苏州市生态环境局", "gb18030", False, "苏环行罚字", 2),
    ("无锡市应急管理局", "utf-8", False, "锡应急罚", 1),
)
# Names the directory does not know: the authorities' pre-2019 names (unknown_authority defect).
_OLD_NAMES = {"苏州市生态环境局": "苏州市环境保护局", "无锡市应急管理局": "无锡市安全生产监督管理局"}
_SOURCE = {"南京市江宁区市场监督管理局": "南京市市场监督管理局"}
_DEPT_POOL = tuple(i for i, d in enumerate(_CURRENT + _LEGACY) for _ in range(d[4]))
_PARTY_KINDS = ("企业", "农民专业合作社", "社会组织", "事业单位")


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    writers, tallies, names = [], [], []
    for i, (dept_name, encoding, bom, *_rest) in enumerate(_CURRENT + _LEGACY):
        legacy = i >= len(_CURRENT)
        dept = department(dept_name)
        name = f"penalty_{'legacy_' if legacy else ''}{dept.slug}_{delivery:%Y%m%d}.csv"
        writers.append(CsvWriter(folder / name, LEGACY_FIELDS if legacy else CURRENT_FIELDS, encoding, bom))
        tallies.append(Tally())
        names.append(name)
    try:
        for j in range(day * plan.rows, (day + 1) * plan.rows):
            rec = _record(plan, j)
            defect_rng = rng(plan.seed, "penalty-defect", j)
            _emit(plan, writers[rec["_dept"]], tallies[rec["_dept"]], rec, defect_rng)
        for j, kind in _events(plan).items_on(day):
            if _original_defective(plan, j):
                continue
            rec = _amend(_record(plan, j), kind, delivery)
            defect_rng = rng(plan.seed, "penalty-event-defect", day, j)
            _emit(plan, writers[rec["_dept"]], tallies[rec["_dept"]], rec, defect_rng)
    finally:
        for w in writers:
            w.close()
    return dict(zip(names, tallies, strict=True))


class _Events:
    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._schedule = EventSchedule(plan.seed, "penalty-event", plan.rows, plan.share(0.03), plan.days)

    def items_on(self, day: int) -> list[tuple[int, str]]:
        return [
            (j, rng(self._plan.seed, "penalty-event-kind", j).choice(("U",) * 7 + ("D",) * 2 + ("disputed",)))
            for j in self._schedule.on_day(day)
        ]


def _events(plan: Plan) -> _Events:
    return _Events(plan)


def _original_defective(plan: Plan, j: int) -> bool:
    """Corrections are only sent for decisions that loaded (a quarantined original has no key)."""
    return rng(plan.seed, "penalty-defect", j).random() < plan.defect_rate


def _record(plan: Plan, j: int) -> dict:
    """Decision ``j`` as a field dict (current codes) plus private ``_`` helpers."""
    r = rng(plan.seed, "penalty", j)
    day = j // plan.rows
    delivery = plan.delivery(day)
    dept_index = r.choice(_DEPT_POOL)
    dept_name, _enc, _bom, prefix, _w = (_CURRENT + _LEGACY)[dept_index]
    dept = department(dept_name)
    recent = day > 0 and r.random() < 0.7
    jdrq = (delivery - timedelta(days=r.randint(1, 60)) if recent
            else random_date(r, date(2019, 1, 1), delivery - timedelta(days=1)))
    offence, basis = r.choice(pc.OFFENCES[dept.kind])
    types = pc.penalty_types(r)
    fine = pc.fine_yuan(r) if "罚款" in types else 0
    confiscated = r.randint(1000, 300000) if "没收违法所得" in types else 0
    rec = {f: "" for f in CURRENT_FIELDS}
    rec["_dept"] = dept_index
    rec["_style"] = "uscc"
    party_roll = r.random()
    if party_roll < 0.15:
        p = person(r)
        pairing = rng(plan.seed, "penalty-person-pool", j)  # its own stream: the record's draws stay as they were
        if pairing.random() < 0.3:
            p = shared_person(plan.seed, plan.rows, pairing)
        rec.update(CF_XDR_MC=p.name, CF_XDR_LB="自然人")
        if r.random() < 0.95:
            rec.update(CF_XDR_ZJLX="01", CF_XDR_ZJHM=p.resident_id)
            rec["_style"] = "person"
        else:
            rec.update(CF_XDR_ZJLX="02", CF_XDR_ZJHM=f"E{r.randrange(10**8):08d}")
            rec["_style"] = "passport"
    else:
        subject = plan.universe.pick(r, day, ("个体工商户",) if party_roll < 0.30 else _PARTY_KINDS)
        if jdrq < subject.founded:
            jdrq = random_date(r, subject.founded, delivery - timedelta(days=1))
        rec.update(CF_XDR_MC=subject.name, CF_FRDB=subject.legal_rep,
                   CF_XDR_LB="个体工商户" if subject.kind == "个体工商户" else "法人及非法人组织")
        if subject.kind != "个体工商户" and jdrq < date(2021, 1, 1) and r.random() < 0.4:
            rec["_style"] = r.choice(("zch", "org"))
        if rec["_style"] == "zch":
            rec["CF_XDR_GSZC"] = subject.registration_number
        elif rec["_style"] == "org":
            org = subject.org_code
            rec["CF_XDR_ZZJG"] = f"{org[:8]}-{org[8]}" if r.random() < 0.5 else org
        else:
            rec["CF_XDR_SHXYM"] = subject.uscc
            if r.random() < 0.3:
                rec["CF_XDR_SWDJ"] = subject.uscc
            if subject.kind == "事业单位":
                rec["CF_XDR_SYDW"] = f"事证第1{subject.uscc[2:8]}{r.randrange(10**5):05d}号"
            elif subject.kind == "社会组织":
                rec["CF_XDR_SHZZ"] = f"苏民证字第{r.randrange(10**6):06d}号"
        if r.random() < 0.2:
            rep = replace(person(r), name=subject.legal_rep)
            rec.update(CF_FR_ZJLX="01", CF_FR_ZJHM=rep.resident_id)
    fmt = r.choice(DATE_FORMATS)
    serious = bool(pc.SERIOUS.intersection(types))
    long_term = types != ("警告",) and r.random() < 0.15
    yxq = LONG_TERM if long_term else jdrq + timedelta(days=365 * r.choice((1, 2, 3)))
    gsjzq = jdrq + timedelta(days=365 * (3 if serious else 1))
    rec.update(
        CF_WSH=f"{prefix}〔{jdrq.year}〕{j + 1}号",
        CF_WFXW=offence,
        CF_SY=f"经查，当事人{rec['CF_XDR_MC']}于{jdrq:%Y年%m月}{offence}，违反了{basis.split('第')[0]}的有关规定。",
        CF_YJ=basis,
        CF_CFLB=";".join(types),
        CF_NR=pc.content(types, fine, confiscated),
        CF_NR_FK=pc.wan(fine) if fine else "",
        CF_NR_WFFF=pc.wan(confiscated) if confiscated else "",
        CF_NR_ZKDX=(f"{pc.LICENCES[dept.kind]}（{dept.division}{r.randrange(10**8):08d}）"
                    if {"暂扣许可证件", "吊销许可证件"} & set(types) else ""),
        CF_JDRQ=jdrq.strftime(fmt),
        CF_YXQ=yxq.strftime(fmt),
        CF_GSJZQ=gsjzq.strftime(fmt),
        CF_CFJG=dept.name,
        CF_CFJGDM=dept.code,
        CZBS="I",
    )
    source = department(_SOURCE.get(dept.name, dept.name))
    rec.update(CF_SJLY=source.name, CF_SJLYDM=source.code)
    rec["_fmt"] = fmt
    rec["_status"] = "3" if r.random() < 0.01 else "0"
    rec["_sjc"] = random_time_on(r, delivery - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    return rec


def _amend(rec: dict, kind: str, delivery: date) -> dict:
    """The later message about an earlier decision: correction, revocation or dispute."""
    if kind == "U":
        rec["CZBS"] = "U"
        if rec["CF_NR_FK"]:
            rec["CF_NR_FK"] = pc.wan(int(float(rec["CF_NR_FK"]) * 10000) // 2 or 100)
        rec["BZ"] = f"{delivery:%Y-%m-%d}更正"
    elif kind == "D":
        rec["CZBS"] = "D"
        rec["_status"] = "1"
        rec["BZ"] = "经行政复议撤销"
    else:
        rec["CZBS"] = "U"
        rec["_status"] = "2"
        rec["BZ"] = "当事人提出异议，核查中"
    rec["_sjc"] = f"{delivery - timedelta(days=1):%Y-%m-%d} 20:00:00"
    return rec


def _legacy_row(rec: dict) -> dict:
    dept_name = (_CURRENT + _LEGACY)[rec["_dept"]][0]
    types = rec["CF_CFLB"].split(";")
    return {
        "CF_WSH": rec["CF_WSH"],
        "CF_CFMC": f"{rec['CF_XDR_MC']}{rec['CF_WFXW']}案",
        "CF_CFLB1": types[0],
        "CF_CFLB2": ";".join(types[1:]),
        "CF_SY": rec["CF_SY"],
        "CF_YJ": rec["CF_YJ"],
        "CF_XDR_MC": rec["CF_XDR_MC"],
        "CF_XDR_SHXYM": rec["CF_XDR_SHXYM"],
        "CF_XDR_ZDM": rec["CF_XDR_ZZJG"],
        "CF_XDR_GSDJ": rec["CF_XDR_GSZC"],
        "CF_XDR_SWDJ": rec["CF_XDR_SWDJ"],
        "CF_XDR_SFZ": rec["CF_XDR_ZJHM"] if rec["CF_XDR_ZJLX"] == "01" else "",
        "CF_FR": rec["CF_FRDB"],
        "CF_JG": rec["CF_NR"],
        "CF_JDRQ": rec["CF_JDRQ"],
        "CF_XZJG": dept_name,
        "CF_ZT": rec["_status"],
        "DFBM": department(dept_name).division,
        "SJC": rec["_sjc"],
        "BZ": rec["BZ"],
    }


def _applicable(rec: dict, legacy: bool) -> list[Defect]:
    out = [Defect.MISSING_REQUIRED, Defect.BAD_DATE, Defect.UNKNOWN_ENUM, Defect.DUPLICATE_KEY,
           Defect.UNDECODABLE_BYTES]
    out.append(Defect.UNKNOWN_AUTHORITY if legacy else Defect.BAD_AMOUNT)
    style = rec["_style"]
    if style == "uscc":
        out += [Defect.BAD_USCC_CHECK, Defect.MALFORMED_USCC]
    elif style == "person":
        out.append(Defect.BAD_RESIDENT_ID)
    elif style == "org":
        out.append(Defect.BAD_ORG_CODE)
    elif style == "zch":
        out.append(Defect.BAD_REGISTRATION_NUMBER)
    return out


def _emit(plan: Plan, out: CsvWriter, tally: Tally, rec: dict, r: random.Random) -> None:
    legacy = rec["_dept"] >= len(_CURRENT)
    row = _legacy_row(rec) if legacy else {f: rec[f] for f in CURRENT_FIELDS}
    names = _LEGACY_NAMES if legacy else _CURRENT_NAMES
    defect = dx.choose(r, plan.defect_rate, _applicable(rec, legacy))
    if defect is None:
        row[names["uscc"]], variant = dx.vary(r, plan.defect_rate, row[names["uscc"]])
        if variant:
            tally.variants[variant] += 1
    else:
        tally.defects[defect] += 1
        _corrupt(r, defect, row, names, rec["_fmt"])
    fields = LEGACY_FIELDS if legacy else CURRENT_FIELDS
    out.write([row[f] for f in fields])
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        row["BZ"] = "重复报送"
        out.write([row[f] for f in fields])
        tally.rows += 1


_CURRENT_NAMES = {"uscc": "CF_XDR_SHXYM", "org": "CF_XDR_ZZJG", "zch": "CF_XDR_GSZC", "id": "CF_XDR_ZJHM"}
_LEGACY_NAMES = {"uscc": "CF_XDR_SHXYM", "org": "CF_XDR_ZDM", "zch": "CF_XDR_GSDJ", "id": "CF_XDR_SFZ"}


def _corrupt(r: random.Random, defect: Defect, row: dict, names: dict, fmt: str) -> None:
    if defect is Defect.BAD_USCC_CHECK:
        row[names["uscc"]] = dx.bad_check_uscc(row[names["uscc"]], r)
    elif defect is Defect.MALFORMED_USCC:
        row[names["uscc"]] = dx.malformed_uscc(row[names["uscc"]], r)
    elif defect is Defect.MISSING_REQUIRED:
        row[r.choice(("CF_WSH", "CF_XDR_MC"))] = ""
    elif defect is Defect.BAD_DATE:
        row["CF_JDRQ"] = dx.bad_date(r, fmt)
    elif defect is Defect.BAD_AMOUNT:
        row["CF_NR_FK"] = dx.bad_amount(r)
    elif defect is Defect.UNKNOWN_ENUM:
        if "CF_ZT" in row:
            row["CF_ZT"] = r.choice(("9", "正常"))
        else:
            field, value = r.choice((("CF_XDR_LB", "其他组织"), ("CZBS", "X"),
                                     ("CF_CFLB", row["CF_CFLB"] + ";罚没款")))
            row[field] = value
    elif defect is Defect.UNKNOWN_AUTHORITY:
        row["CF_XZJG"] = _OLD_NAMES[row["CF_XZJG"]]
    elif defect is Defect.BAD_RESIDENT_ID:
        row[names["id"]] = dx.bad_check_digit(row[names["id"]])
    elif defect is Defect.BAD_ORG_CODE:
        row[names["org"]] = dx.bad_org_code(row[names["org"]])
    elif defect is Defect.BAD_REGISTRATION_NUMBER:
        row[names["zch"]] = dx.bad_check_digit(row[names["zch"]])
    elif defect is Defect.UNDECODABLE_BYTES:
        row["CF_XDR_MC"] = row["CF_XDR_MC"][:1] + BAD_MARK + row["CF_XDR_MC"][1:]


def departments_used() -> tuple[Department, ...]:
    """Authorities that send penalty files (for tests and documentation)."""
    return tuple(department(d[0]) for d in _CURRENT + _LEGACY)
