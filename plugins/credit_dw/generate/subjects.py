"""The population of registered subjects every feed draws its parties from.

Subject ``i`` is a pure function of ``(seed, i)``: the registration feed publishes it, and the
penalty, judicial, tax and social-insurance feeds refer to the same USCC, registration number
and organisation code, so cross-feed joins in the warehouse find real matches. Day 0 holds
``rows`` subjects; each later day adds about 5 %; about 3 % of the initial subjects have one
change (rename, move, revocation, deregistration) on a scheduled day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from credit_dw.generate import vocab
from credit_dw.generate.people import person_name
from credit_dw.generate.rng import EventSchedule, random_date, rng, unit
from credit_dw.identifiers import (
    USCC_ALPHABET,
    mod_11_10_check_digit,
    org_code_check_char,
    uscc_check_char,
)

USCC_CUTOVER = date(2015, 10, 1)

# (positions 1-2 of the USCC, ZTLX, cumulative weight). N2 village collectives and A1 military
# institutions carry letters in positions 1-2 (legal per GB 32100); the closed ZTLX list has no
# collective type, so N2 is published as 农民专业合作社, A1 as 事业单位.
_KINDS = (
    ("91", "企业", 0.74),
    ("92", "个体工商户", 0.86),
    ("93", "农民专业合作社", 0.90),
    ("N2", "农民专业合作社", 0.91),
    ("52", "社会组织", 0.93),
    ("53", "社会组织", 0.94),
    ("12", "事业单位", 0.97),
    ("A1", "事业单位", 0.98),
    ("11", "机关", 1.00),
)
_DJJG_SUFFIX = {"9": "市场监督管理局", "5": "民政局", "1": "机构编制委员会办公室", "A": "机构编制委员会办公室",
                "N": "农业农村局"}
CHANGE_KINDS = ("rename", "rename", "rename", "move", "吊销", "注销", "迁出")


@dataclass(frozen=True, slots=True)
class Subject:
    index: int
    uscc: str
    name: str
    kind: str  # ZTLX
    registration_number: str  # ZCH, 15 digits
    legal_rep: str
    founded: date
    authority: str  # DJJG
    address: str
    county: vocab.County
    status: str  # DJZT at first publication
    closed: date | None  # ZXRQ at first publication
    anomaly: bool  # USCC fails its check character: a register anomaly the registration feed carries

    @property
    def org_code(self) -> str:
        """GB 11714 code = USCC positions 9-17 (plain form)."""
        return self.uscc[8:17]


class Universe:
    """All subjects of one generation run; nothing is stored, everything is recomputed."""

    def __init__(self, seed: int, rows: int, days: int, start: date) -> None:
        self.seed = seed
        self.rows = max(rows, 1)
        self.days = days
        self.start = start
        self.new_per_day = max(1, self.rows * 5 // 100)
        self.changes = EventSchedule(seed, "subject-change", self.rows, max(1, self.rows * 3 // 100), days)

    def population(self, day: int) -> int:
        """Number of subjects registered by delivery day ``day``."""
        return self.rows + day * self.new_per_day

    def created_on(self, index: int) -> int:
        return 0 if index < self.rows else 1 + (index - self.rows) // self.new_per_day

    def new_on(self, day: int) -> range:
        if day == 0:
            return range(self.rows)
        return range(self.population(day - 1), self.population(day))

    def kind_of(self, index: int) -> tuple[str, str]:
        """(USCC positions 1-2, ZTLX) without building the whole subject."""
        roll = unit(self.seed, "subject-kind", index)
        return next((p, k) for p, k, w in _KINDS if roll < w)

    def is_anomaly(self, index: int) -> bool:
        return index % 397 == 3 or unit(self.seed, "subject-anomaly", index) < 0.002

    def subject(self, index: int) -> Subject:
        r = rng(self.seed, "subject", index)
        prefix, kind = self.kind_of(index)
        county = r.choice(vocab.jiangsu_counties())
        delivery = self.start + timedelta(days=self.created_on(index))
        if index < self.rows:
            founded = random_date(r, date(1995, 1, 1), self.start - timedelta(days=2))
        else:
            founded = delivery - timedelta(days=r.randint(1, 3))
        if founded < USCC_CUTOVER:
            body = f"{r.randrange(10**8):08d}"
        else:
            body = "MA" + "".join(r.choice(USCC_ALPHABET) for _ in range(6))
        first17 = prefix + county.code + body + org_code_check_char(body)
        check = uscc_check_char(first17)
        anomaly = self.is_anomaly(index)
        if anomaly:
            check = USCC_ALPHABET[(USCC_ALPHABET.index(check) + 1 + r.randrange(30)) % 31]
        zch14 = county.code + f"{r.randrange(10**8):08d}"
        status, closed = "存续", None
        if index < self.rows:
            s = r.random()
            if s < 0.08:
                status = "在业"
            elif s < 0.12:
                status, closed = "吊销", random_date(r, founded, self.start - timedelta(days=2))
            elif s < 0.15:
                status, closed = "注销", random_date(r, founded, self.start - timedelta(days=2))
        return Subject(
            index=index,
            uscc=first17 + check,
            name=_subject_name(r, prefix, kind, county),
            kind=kind,
            registration_number=zch14 + mod_11_10_check_digit(zch14),
            legal_rep=person_name(r),
            founded=founded,
            authority=_authority(prefix, county),
            address=address(r, county),
            county=county,
            status=status,
            closed=closed,
            anomaly=anomaly,
        )

    def change(self, index: int) -> tuple[int, str] | None:
        """``(day, kind)`` of the subject's one scheduled change, if any."""
        day = self.changes.day_of(index)
        if day is None:
            return None
        return day, rng(self.seed, "subject-change-kind", index).choice(CHANGE_KINDS)

    def renamed(self, subject: Subject) -> str:
        r = rng(self.seed, "subject-rename", subject.index)
        return _subject_name(r, subject.uscc[:2], subject.kind, subject.county)

    def moved(self, subject: Subject) -> str:
        return address(rng(self.seed, "subject-move", subject.index), subject.county)

    def pick(self, r: random.Random, day: int, kinds: tuple[str, ...] | None = None) -> Subject:
        """A subject registered by ``day`` that other feeds may name: no register anomalies
        (their code fails the check, so any other feed carrying it would be quarantined)."""
        population = self.population(day)
        for _ in range(100):
            index = r.randrange(population)
            if not self.is_anomaly(index) and (kinds is None or self.kind_of(index)[1] in kinds):
                return self.subject(index)
        return self.subject(next(i for i in range(population) if not self.is_anomaly(i)))


def _authority(prefix: str, county: vocab.County) -> str:
    suffix = _DJJG_SUFFIX.get(prefix[0], "市场监督管理局")
    return county.full_name + suffix


def _subject_name(r: random.Random, prefix: str, kind: str, county: vocab.County) -> str:
    trade = r.choice(vocab.TRADE_NAMES)
    if kind == "企业":
        place = r.choice((county.city_name, county.city_name, "江苏", ""))
        return place + trade + r.choice(vocab.INDUSTRIES) + r.choice(vocab.COMPANY_FORMS)
    if kind == "个体工商户":
        return county.full_name + r.choice(vocab.SURNAMES) + "记" + r.choice(vocab.SHOP_KINDS)
    if kind == "农民专业合作社":
        if prefix.startswith("N"):
            return county.full_name + trade + "村股份经济合作社"
        return county.full_name + trade + r.choice(vocab.COOP_KINDS)
    if kind == "社会组织":
        return county.city_name + trade + r.choice(vocab.SOCIAL_KINDS)
    if kind == "事业单位":
        return county.full_name + trade + r.choice(vocab.INSTITUTION_KINDS)
    return county.full_name + trade + r.choice(vocab.ORGAN_KINDS)


def address(r: random.Random, county: vocab.County) -> str:
    """Postal address; about 2 % carry a comma, quotes or a line break (RFC 4180 quoting test)."""
    base = f"江苏省{county.full_name}{r.choice(vocab.ROADS)}{r.randint(1, 999)}号{r.choice(vocab.BUILDINGS)}"
    roll = r.random()
    if roll < 0.01:
        return base + ',"' + r.choice(vocab.TRADE_NAMES) + '广场"' + f"{r.randint(2, 30)}楼"
    if roll < 0.02:
        return base + "\n（东门）"
    return base
