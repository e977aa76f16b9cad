"""judicial (失信被执行人 / 限制消费): a daily FULL snapshot as JSON Lines.

Entry ``e`` is listed from day ``start(e)`` until its removal day (about 3 % of entries leave
per day: performance or expiry) and a few percent join per day; about 30 % of entries change
once from 全部未履行 to 部分未履行 while listed. Some odd entries are the other list
(dishonest vs restricted) of the previous entry's case and party, as courts publish both.

Defects are a property of the entry, not of the day: a court's bad record stays bad in every
snapshot, so a quarantined entry never looks like a removal followed by a re-listing.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from pathlib import Path

from credit_dw.generate import defects as dx
from credit_dw.generate import vocab
from credit_dw.generate.defects import Defect, Tally
from credit_dw.generate.people import person, shared_person
from credit_dw.generate.plan import Plan
from credit_dw.generate.rng import random_date, rng
from credit_dw.generate.writers import BAD_MARK, JsonLinesWriter
from credit_dw.identifiers import mask_id

FEED = "judicial"
FIELDS = [
    "caseCode", "iname", "cardNum", "partyType", "sexy", "age", "businessEntity", "courtName", "areaName",
    "gistId", "gistUnit", "duty", "performance", "performedPart", "unperformPart", "disruptTypeName",
    "regDate", "publishDate", "listType",
]
_DISRUPT = (
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
)
_DUTIES = ("支付货款", "偿还借款本金及利息", "支付工程款", "支付劳动报酬", "赔偿损失", "支付租金")
_APPLICABLE_ORG = [Defect.BAD_USCC_CHECK, Defect.MALFORMED_USCC]
_APPLICABLE_ALL = [Defect.MISSING_REQUIRED, Defect.BAD_DATE, Defect.BAD_AMOUNT, Defect.UNKNOWN_ENUM,
                   Defect.DUPLICATE_KEY, Defect.UNDECODABLE_BYTES]


class Listing:
    """Life cycle of the snapshot's entries, O(1) per question."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.base = plan.rows
        self.new_per_day = plan.share(0.03)

    def count_by(self, day: int) -> int:
        return self.base + day * self.new_per_day

    def start(self, e: int) -> int:
        return 0 if e < self.base else 1 + (e - self.base) // self.new_per_day

    def life(self, e: int) -> tuple[int, int | None]:
        """(removal day, day performance becomes partial or None)."""
        r = rng(self.plan.seed, "judicial-life", e)
        u = 1.0 - r.random()
        end = self.start(e) + 1 + int(math.log(u) / math.log(0.97))
        change = self.start(e) + r.randint(1, 40) if r.random() < 0.3 else None
        return end, change


def write_day(plan: Plan, day: int, folder: Path) -> dict[str, Tally]:
    delivery = plan.delivery(day)
    name = f"judicial_{delivery:%Y%m%d}.jsonl"
    listing = Listing(plan)
    tally = Tally()
    with JsonLinesWriter(folder / name) as out:
        for e in range(listing.count_by(day)):
            if listing.start(e) > day:
                continue
            end, change = listing.life(e)
            if day >= end:
                continue
            entry = _entry(plan, listing, e, partial=change is not None and change <= day)
            _emit(plan, out, tally, e, entry)
    return {name: tally}


def _entry(plan: Plan, listing: Listing, e: int, partial: bool) -> dict:
    sibling = e % 2 == 1 and rng(plan.seed, "judicial-sibling", e).random() < 0.3
    case = e - 1 if sibling else e
    r = rng(plan.seed, "judicial", case)
    first_day = plan.delivery(listing.start(case))
    reg_date = random_date(r, date(2019, 6, 1), first_day - timedelta(days=20))
    publish = random_date(r, reg_date + timedelta(days=10), first_day - timedelta(days=1))
    county = r.choice(vocab.jiangsu_counties())
    court = f"{county.full_name}人民法院"
    if r.random() < 0.6:
        s = plan.universe.pick(r, listing.start(case))
        party = {"iname": s.name, "cardNum": s.uscc, "partyType": "法人", "sexy": None, "age": None,
                 "businessEntity": s.legal_rep}
    else:
        p = person(r)
        pairing = rng(plan.seed, "judicial-person-pool", case)  # its own stream: the entry's draws stay
        if pairing.random() < 0.25:
            p = shared_person(plan.seed, plan.rows, pairing)
        party = {"iname": p.name, "cardNum": mask_id(p.resident_id), "partyType": "自然人", "sexy": p.sex,
                 "age": p.age_on(first_day), "businessEntity": ""}
    owed = r.randint(2000, 3_000_000)
    share_paid = r.randint(10, 60)  # drawn even when unused: later draws must not depend on the day
    paid = owed * share_paid // 100 if partial else 0
    list_type = r.choice(("dishonest", "dishonest", "restricted"))
    if sibling:
        list_type = "restricted" if list_type == "dishonest" else "dishonest"
    gist_year = reg_date.year - (1 if r.random() < 0.5 else 0)
    return {
        "caseCode": f"（{reg_date.year}）{county.court_code}执{case + 1001}号",
        **party,
        "courtName": court,
        "areaName": "江苏",
        "gistId": f"（{gist_year}）{county.court_code}民初{r.randint(100, 19999)}号",
        "gistUnit": court,
        "duty": f"被执行人于判决生效之日起十日内{r.choice(_DUTIES)}{owed}元",
        "performance": "部分未履行" if partial else "全部未履行",
        "performedPart": f"{paid}.00",
        "unperformPart": f"{owed - paid}.00",
        "disruptTypeName": r.choice(_DISRUPT) if list_type == "dishonest" else "",
        "regDate": reg_date.isoformat(),
        "publishDate": publish.isoformat(),
        "listType": list_type,
    }


def _emit(plan: Plan, out: JsonLinesWriter, tally: Tally, e: int, entry: dict) -> None:
    r = rng(plan.seed, "judicial-defect", e)
    applicable = _APPLICABLE_ALL + (_APPLICABLE_ORG if entry["partyType"] == "法人" else [])
    defect = dx.choose(r, plan.defect_rate, applicable)
    if defect is None and entry["partyType"] == "法人":
        entry["cardNum"], variant = dx.vary(r, plan.defect_rate, entry["cardNum"])
        if variant:
            tally.variants[variant] += 1
    if defect is not None:
        tally.defects[defect] += 1
        _corrupt(r, defect, entry)
    out.write(entry)
    tally.rows += 1
    if defect is Defect.DUPLICATE_KEY:
        out.write({**entry, "publishDate": entry["regDate"]})
        tally.rows += 1


def _corrupt(r: random.Random, defect: Defect, entry: dict) -> None:
    if defect is Defect.BAD_USCC_CHECK:
        entry["cardNum"] = dx.bad_check_uscc(entry["cardNum"], r)
    elif defect is Defect.MALFORMED_USCC:
        entry["cardNum"] = dx.malformed_uscc(entry["cardNum"], r)
    elif defect is Defect.MISSING_REQUIRED:
        entry[r.choice(("caseCode", "iname"))] = ""
    elif defect is Defect.BAD_DATE:
        entry["regDate"] = dx.bad_date(r)
    elif defect is Defect.BAD_AMOUNT:
        entry["unperformPart"] = dx.bad_amount(r)
    elif defect is Defect.UNKNOWN_ENUM:
        field, value = r.choice((("listType", "blacklist"), ("partyType", "其他"), ("performance", "已履行")))
        entry[field] = value
    elif defect is Defect.UNDECODABLE_BYTES:
        entry["iname"] = entry["iname"][:1] + BAD_MARK + entry["iname"][1:]
