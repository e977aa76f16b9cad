"""Parameters of one generation run, shared by the five feed writers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
LONG_TERM = date(2099, 12, 31)
