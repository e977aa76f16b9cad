"""Natural persons: Chinese names and resident ID numbers valid under GB 11643-1999."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from credit_dw.generate import vocab
from credit_dw.generate.rng import random_date, rng
from credit_dw.identifiers import resident_id_check_char


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    sex: str  # 男 / 女, from the parity of the sequence code as the standard defines
    birth: date
    resident_id: str

    def age_on(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


def person_name(r: random.Random) -> str:
    given = "".join(r.choice(vocab.GIVEN_CHARS) for _ in range(r.choice((1, 2, 2))))
    return r.choice(vocab.SURNAMES) + given


def shared_person(seed: int, rows: int, draw: random.Random) -> Person:
    """One of the run's few persons that several feeds name (a court lists whom a department
    penalised): the same name and ID wherever drawn, so the warehouse must resolve them to one
    subject (issue 11). The pool grows with the run (``rows // 25``, at least 4 persons)."""
    return person(rng(seed, "person-pool", draw.randrange(max(4, rows // 25))))


def person(r: random.Random) -> Person:
    """A person born 1955-2003 in a Jiangsu county, with a clear, valid 18-character ID."""
    county = r.choice(vocab.jiangsu_counties())
    birth = random_date(r, date(1955, 1, 1), date(2003, 12, 31))
    sequence = r.randint(1, 999)
    first17 = f"{county.code}{birth:%Y%m%d}{sequence:03d}"
    return Person(
        name=person_name(r),
        sex="男" if sequence % 2 else "女",
        birth=birth,
        resident_id=first17 + resident_id_check_char(first17),
    )
