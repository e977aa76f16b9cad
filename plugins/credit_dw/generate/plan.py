"""Parameters of one generation run, shared by the feed writers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from credit_dw.generate.rng import rng
from credit_dw.generate.subjects import Universe


@dataclass(frozen=True)
class Plan:
    out: Path
    start: date
    days: int
    rows: int
    seed: int
    defect_rate: float
    universe: Universe

    def delivery(self, day: int) -> date:
        """Delivery date of run day ``day`` (0-based)."""
        return self.start + timedelta(days=day)

    def share(self, fraction: float) -> int:
        """At least one row, else ``fraction`` of ``rows``: small samples still show each case."""
        return max(1, int(self.rows * fraction))

    def new_records(self, day: int, fraction: float = 0.05) -> range:
        """Indexes of the records a delta feed first delivers on ``day``: ``rows`` on day 0, then
        ``fraction`` of ``rows`` per day, numbered on (an index is one record for ever)."""
        per_day = self.share(fraction)
        if day == 0:
            return range(self.rows)
        return range(self.rows + (day - 1) * per_day, self.rows + day * per_day)

    def defective(self, stream: str, index: int) -> bool:
        """Whether record ``index`` was delivered with a defect (its defect stream's first draw)."""
        return rng(self.seed, stream, index).random() < self.defect_rate


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
LONG_TERM = date(2099, 12, 31)
