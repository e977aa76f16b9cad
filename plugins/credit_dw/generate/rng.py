"""Deterministic randomness keyed by *what* is generated, not by generation order.

Every record draws from its own ``random.Random`` seeded with ``(seed, stream, index)``, so a
record can be regenerated on any later day (a correction of an earlier penalty, a status change
of an earlier subject) without keeping anything in memory, and changing one feed never shifts
the values of another. String seeds are hashed with SHA-512 by ``random``, so results are the
same in every process (unlike ``hash()``).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta


def rng(seed: int, stream: str, *index: int) -> random.Random:
    """The random stream of one record: same arguments, same numbers, in any process."""
    return random.Random(f"{seed}:{stream}:{':'.join(map(str, index))}")


def unit(seed: int, stream: str, *index: int) -> float:
    """A single uniform number in [0, 1) for ``(seed, stream, index)``, ~20x cheaper than ``rng``.

    For cheap yes/no questions about a record (its kind, whether it is defective) that
    callers ask without needing the whole record.
    """
    key = f"{seed}:{stream}:{':'.join(map(str, index))}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64


def random_date(r: random.Random, first: date, last: date) -> date:
    """Uniform date in ``[first, last]`` (``last`` before ``first`` yields ``first``)."""
    span = (last - first).days
    return first + timedelta(days=r.randint(0, span)) if span > 0 else first


def random_time_on(r: random.Random, day: date) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(seconds=r.randint(8 * 3600, 23 * 3600))


class EventSchedule:
    """Spread one event each over ``population`` items across days ``1..days-1`` in O(1) memory.

    An affine permutation ``pos -> (a*pos + b) mod population`` orders the items; day ``d``
    takes positions ``[(d-1)*per_day, d*per_day)``. The inverse gives an item's event day, so
    both "which items change today" and "did item i change before day d" cost O(1) each.
    """

    _MULTIPLIERS = (7919, 104729, 1299709, 15485863, 179424673)

    def __init__(self, seed: int, stream: str, population: int, per_day: int, days: int) -> None:
        self.population = max(population, 0)
        self.per_day = max(per_day, 0)
        self.days = days
        if self.population == 0:
            self._a = self._a_inv = 1
            self._b = 0
            return
        r = rng(seed, "schedule:" + stream)
        self._b = r.randrange(self.population)
        self._a = next(
            (m for m in self._MULTIPLIERS if _gcd(m, self.population) == 1),
            1,
        ) % self.population or 1
        self._a_inv = pow(self._a, -1, self.population) if self.population > 1 else 1

    def on_day(self, day: int) -> list[int]:
        """Items whose event falls on ``day`` (day 0 has none), in schedule order."""
        if day < 1 or day >= self.days or self.population == 0:
            return []
        first = (day - 1) * self.per_day
        last = min(day * self.per_day, self.population)
        return [(self._a * pos + self._b) % self.population for pos in range(first, last)]

    def day_of(self, item: int) -> int | None:
        """The day item ``item`` has its event, or ``None`` if it has none in this run."""
        if not 0 <= item < self.population or self.per_day == 0:
            return None
        pos = ((item - self._b) * self._a_inv) % self.population
        day = pos // self.per_day + 1
        return day if day < self.days else None


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
