"""A delivery: ``LANDING_ROOT/<feed>/<YYYY-MM-DD>/`` with data files and ``_DONE`` written last.

``ingest_delivery`` loads every file of the folder (each in its own transaction, see
``loader``), then raises ``IngestError`` if any file failed, so the caller (Airflow task, CLI)
fails after all good files are in and every failure is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from credit_dw import config
from credit_dw.feeds import load_spec
from credit_dw.ingest import reasons
from credit_dw.ingest.loader import FileResult, load_file, record_refusal, symlink_message

DONE_MARKER = "_DONE"


class IngestError(RuntimeError):
    """One or more files of a delivery failed; the message names each file and its problem."""

    def __init__(self, result: DeliveryResult):
        self.result = result
        lines = [f.message or f.source_file for f in result.files if f.status == "failed"]
        if not result.files:
            lines = [f"no data files in {result.folder}"]
        super().__init__(f"{result.feed} delivery {result.day}: " + " | ".join(lines))


@dataclass
class DeliveryResult:
    feed: str
    day: date
    folder: Path
    files: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.status != "failed" for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def batch_ids(self) -> list[int]:
        """Batches loaded by this call (what the feed's quality suites validate)."""
        return [f.batch_id for f in self.files if f.status == "loaded" and f.batch_id is not None]

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "rows_loaded", "rows_rejected", "rows_warned")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    def as_dict(self) -> dict:
        """JSON-serialisable summary (the Airflow task's XCom value)."""
        return {"feed": self.feed, "day": self.day.isoformat(), "ok": self.ok, "batch_ids": self.batch_ids,
                **self.totals(), "files": [asdict(f) for f in self.files]}


def delivery_folder(feed: str, day: date, landing_root: Path | None = None) -> Path:
    return Path(landing_root or config.landing_root()) / feed / day.isoformat()


def delivery_ready(feed: str, day: date, landing_root: Path | None = None) -> bool:
    """True once the department has written ``_DONE`` into the day's folder."""
    return (delivery_folder(feed, day, landing_root) / DONE_MARKER).is_file()


def ingest_delivery(feed: str, day: date, *, dsn: str | None = None,
                    landing_root: Path | None = None) -> DeliveryResult:
    """Load all files of one delivery exactly once; raise ``IngestError`` after recording failures."""
    spec = load_spec(feed)
    root = Path(landing_root or config.landing_root()).resolve()
    folder = delivery_folder(feed, day, root)
    if not delivery_ready(feed, day, root):
        raise FileNotFoundError(
            f"{folder} has no {DONE_MARKER} marker: the delivery is incomplete (or absent); "
            "wait for the department to finish writing it"
        )
    if folder.is_symlink() or not folder.resolve().is_relative_to(root):
        raise DeliveryRefused(f"{folder} is (or passes through) a symbolic link; links are never followed: "
                              "the delivery must be a real folder under the landing root")
    config.pii_hash_key()  # fail before any file, in one line, when the key is missing
    dsn = dsn or config.warehouse_dsn()
    result = DeliveryResult(feed, day, folder)
    for path in sorted(folder.iterdir()):
        if path.name == DONE_MARKER:
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink():
            inside = sum(1 for p in path.rglob("*") if not p.is_dir())
            result.files.append(record_refusal(spec, day, rel, reasons.SUB_FOLDER, (
                f"{rel}/ is a sub-folder ({inside} file(s) inside); files in sub-folders are not loaded: "
                "the department must put data files directly into the delivery folder"), dsn=dsn))
        elif path.is_symlink() and not path.is_file():  # a link to a folder, or dangling
            result.files.append(record_refusal(spec, day, rel, reasons.SYMLINK,
                                               symlink_message(path, rel, root), dsn=dsn))
        else:
            result.files.append(load_file(spec, spec.kind_for(path.name), path, day, dsn=dsn,
                                          landing_root=root))
    if not result.ok:
        raise IngestError(result)
    return result


class DeliveryRefused(RuntimeError):
    """The delivery folder itself cannot be read safely (e.g. a symbolic link); one line."""
