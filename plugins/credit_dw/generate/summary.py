"""What a generation run wrote, per file: rows, defects and variants (``_generation.json``).

Tests and benchmarks compare ingestion results with these counts: a file's loadable rows are
``rows - sum(defects)`` (each defect class corrupts exactly one row; ``duplicate_key`` counts
the one extra row that repeats the previous row's natural key).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

SUMMARY_FILE = "_generation.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileSummary:
    feed: str
    day: str  # delivery date, YYYY-MM-DD
    file: str  # path relative to the output root, POSIX separators
    rows: int  # data records written (excluding the header), defective ones included
    defects: dict[str, int]
    variants: dict[str, int]


@dataclass
class GenerationSummary:
    start: str
    days: int
    rows: int
    seed: int
    defect_rate: float
    files: list[FileSummary] = field(default_factory=list)

    def defects(self, feed: str | None = None, day: str | None = None, file: str | None = None) -> Counter[str]:
        """Defect counts, optionally narrowed to a feed, a delivery day and/or a file name."""
        total: Counter[str] = Counter()
        for f in self._select(feed, day, file):
            total.update(f.defects)
        return total

    def variants(self, feed: str | None = None, day: str | None = None, file: str | None = None) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self._select(feed, day, file):
            total.update(f.variants)
        return total

    def row_count(self, feed: str | None = None, day: str | None = None, file: str | None = None) -> int:
        return sum(f.rows for f in self._select(feed, day, file))

    def _select(self, feed: str | None, day: str | None, file: str | None) -> list[FileSummary]:
        return [
            f for f in self.files
            if (feed is None or f.feed == feed) and (day is None or f.day == day)
            and (file is None or Path(f.file).name == file)
        ]

    def to_json(self) -> dict:
        totals: dict[str, dict[str, dict[str, int]]] = {}
        for f in self.files:
            per_day = totals.setdefault(f.feed, {}).setdefault(f.day, {})
            for name, n in f.defects.items():
                per_day[name] = per_day.get(name, 0) + n
        return {
            "format_version": FORMAT_VERSION,
            "parameters": {"start": self.start, "days": self.days, "rows": self.rows, "seed": self.seed,
                           "defect_rate": self.defect_rate},
            "files": [asdict(f) for f in self.files],
            "defect_totals": {feed: {d: dict(sorted(c.items())) for d, c in sorted(days.items())}
                              for feed, days in sorted(totals.items())},
        }

    def write(self, out: Path) -> Path:
        path = out / SUMMARY_FILE
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2, sort_keys=False) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def read(cls, out: Path) -> GenerationSummary:
        data = json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8"))
        return cls(**data["parameters"], files=[FileSummary(**f) for f in data["files"]])
