"""Load one delivered file in one transaction: manifest, raw rows, quarantine, personal IDs.

Why this shape:
- *Exactly once*: a file is identified by its sha256; a ``loaded`` manifest row for the same
  feed and hash means skip (a partial unique index makes a concurrent double load fail, not
  duplicate). Everything for one file commits together under ``SET LOCAL ROLE loader``, so a
  load killed mid-way leaves no trace and simply runs again.
- *Streaming*: records are validated as they are read and COPYed into a temporary stage table
  (accepted and rejected alike, one COPY stream); nothing holds the file in memory. Then
  set-based SQL does what needs the whole file: duplicate natural keys (2nd and later
  occurrences rejected), the quarantine insert, the pseudonymised person register, the raw
  insert or the snapshot merge.
- *Reconciliation*: rows read = loaded + rejected is asserted here and by a CHECK constraint.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from credit_dw import config, db
from credit_dw.feeds import FeedSpec, FileKind
from credit_dw.ingest import reasons, snapshot
from credit_dw.ingest.readers import open_source
from credit_dw.ingest.reasons import FileFailure
from credit_dw.ingest.validation import RowValidator, choose_field_set, mask_personal_ids

log = logging.getLogger(__name__)

_INTERVAL_COLUMNS = ("first_seen_on", "last_seen_on", "removed_on")
_STAGE_EXTRA = ("alter table _stage add column _reasons text[], add column _message text, add column _raw text,"
                " add column _persons jsonb, add column _warned boolean")


@dataclass
class FileResult:
    """Outcome of one file of a delivery; ``source_file`` is relative to LANDING_ROOT."""

    source_file: str
    status: str                      # loaded | skipped | failed
    kind: str | None = None
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_warned: int = 0
    encoding: str | None = None
    field_set: str | None = None
    message: str | None = None

    @property
    def path(self) -> str:
        return self.source_file


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_file(spec: FeedSpec, kind: FileKind | None, path: Path, day: date, *, dsn: str,
              landing_root: Path) -> FileResult:
    """Load ``path`` (or record why it cannot be loaded); never raises for a bad file."""
    rel = path.relative_to(landing_root).as_posix()
    sha = file_digest(path)
    size = path.stat().st_size
    with db.connect(dsn) as conn:
        done = conn.execute(
            "select batch_id from quality.batch_manifest where feed = %s and sha256 = %s and status = 'loaded'",
            (spec.feed, sha),
        ).fetchone()
    if done:
        return FileResult(rel, "skipped", kind.name if kind else None, batch_id=done[0],
                          message=f"{rel}: identical content already loaded as batch {done[0]}")
    started = datetime.now(UTC)
    result = FileResult(rel, "failed", kind.name if kind else None)
    try:
        if kind is None:
            patterns = ", ".join(k.pattern for k in spec.files)
            raise FileFailure(reasons.UNEXPECTED_FILE,
                              f"{rel} matches no file kind of feed {spec.feed} ({patterns}); "
                              "remove it from the delivery or add a file kind to the spec")
        _load(spec, kind, path, rel, day, sha, size, started, dsn, result)
    except FileFailure as failure:
        result.status = "failed"
        result.message = failure.message if rel in failure.message else f"{rel}: {failure.message}"
        result.message = f"{failure.code}: {result.message}"
        result.rows_loaded = result.rows_rejected = result.rows_warned = 0
        result.batch_id = _record_failure(spec, day, rel, sha, size, started, result, dsn)
        log.error("%s", result.message)
    except psycopg.errors.UniqueViolation:
        # another run loaded the same content between our check and our insert
        result.status = "skipped"
        result.message = f"{rel}: identical content loaded concurrently by another run"
    return result


def _load(spec: FeedSpec, kind: FileKind, path: Path, rel: str, day: date, sha: str, size: int,
          started: datetime, dsn: str, result: FileResult) -> None:
    with open_source(path, kind) as source:
        result.encoding = source.encoding
        field_set = choose_field_set(kind, source.header)
        if field_set is None:
            expected = "; ".join(f"{fs.name}: {', '.join(sorted(fs.signature))}" for fs in kind.field_sets)
            raise FileFailure(reasons.UNKNOWN_FIELD_SET,
                              f"{rel}: header ({', '.join(source.header[:40])}) carries no known field set "
                              f"of {kind.name} (required fields per set: {expected}); "
                              "check the export template with the department")
        result.field_set = field_set.name
        validator = RowValidator(kind, field_set, spec.lookups, config.pii_hash_key())
        with db.transaction(dsn, role="loader") as conn:
            if kind.change_semantics == "daily_snapshot":
                snapshot.guard_order(conn, kind.raw_table, day, rel)
            batch_id = conn.execute(
                "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
                " encoding, field_set, status, started_at) values (%s, %s, %s, %s, %s, %s, %s, 'loaded', %s)"
                " returning batch_id",
                (spec.feed, day, rel, size, sha, source.encoding, field_set.name, started),
            ).fetchone()[0]
            result.batch_id = batch_id
            columns = _stage(conn, kind.raw_table)
            read = _copy_records(conn, source, validator, columns, batch_id, rel)
            conn.execute("analyze _stage")  # temp tables are never auto-analysed; the joins below need stats
            _reject_duplicates(conn, kind, rel)
            _quarantine(conn, batch_id, spec.feed, rel)
            _register_persons(conn, batch_id)
            notes = _drift_note(rel, validator.drift)
            if kind.change_semantics == "daily_snapshot":
                value_columns = [c for c in columns if c not in _INTERVAL_COLUMNS]
                changes = snapshot.apply_snapshot(conn, kind.raw_table, kind.natural_key, value_columns, day)
                notes.append("snapshot: " + ", ".join(f"{v} {k}" for k, v in changes.items()))
            else:
                _append(conn, kind.raw_table, columns)
            total, loaded, rejected, warned = conn.execute(
                "select count(*), count(*) filter (where _reasons is null),"
                " count(*) filter (where _reasons is not null),"
                " count(*) filter (where _reasons is null and _warned) from _stage"
            ).fetchone()
            if not (total == read == loaded + rejected):
                raise RuntimeError(f"{rel}: reconciliation failed: read {read}, staged {total}, "
                                   f"loaded {loaded}, rejected {rejected}; nothing committed")
            if warned:
                notes.append(f"{warned} row(s) loaded with warnings (see rows_warned)")
            conn.execute(
                "update quality.batch_manifest set rows_read = %s, rows_loaded = %s, rows_rejected = %s,"
                " rows_warned = %s, message = %s, finished_at = clock_timestamp() where batch_id = %s",
                (read, loaded, rejected, warned, "; ".join(notes) or None, batch_id),
            )
        result.status = "loaded"
        result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_warned = (
            read, loaded, rejected, warned)
        result.message = "; ".join(notes) or None
        for note in notes:
            log.warning("%s", note) if note.startswith(reasons.FIELD_DRIFT) else log.info("%s", note)


def _stage(conn: psycopg.Connection, raw_table: str) -> list[str]:
    """Temporary stage shaped like the raw table (no NOT NULLs: rejected rows are partial)."""
    schema, table = raw_table.split(".")
    conn.execute(sql.SQL("create temp table _stage on commit drop as select * from {} with no data")
                 .format(sql.Identifier(schema, table)))
    conn.execute(_STAGE_EXTRA)
    return [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position", (schema, table)).fetchall()]


def _copy_records(conn: psycopg.Connection, source, validator: RowValidator, columns: list[str],
                  batch_id: int, rel: str) -> int:
    known = set(columns)
    lineage = {"batch_id": batch_id, "source_file": rel}
    names = sql.SQL(", ").join(map(sql.Identifier, [*columns, "_reasons", "_message", "_raw", "_persons",
                                                     "_warned"]))
    read = 0
    with conn.cursor().copy(sql.SQL("copy _stage ({}) from stdin").format(names)) as copy:
        for record in source.records():
            read += 1
            out = validator.validate(record)
            unknown = set(out.values) - known
            if unknown:  # a spec bug, not a data problem: fail loudly
                raise RuntimeError(f"feed spec maps to columns {sorted(unknown)} missing from the raw table")
            row = {**out.values, **lineage, "source_row": out.source_row}
            rejected = out.rejected
            copy.write_row([
                *(row.get(c) for c in columns),
                out.reason_codes if rejected else None,
                mask_personal_ids(out.message(rel)) if rejected else None,
                mask_personal_ids(out.raw),
                Jsonb(out.persons) if out.persons and not rejected else None,
                out.warned,
            ])
    return read


def _reject_duplicates(conn: psycopg.Connection, kind: FileKind, rel: str) -> None:
    """2nd and later occurrences of a natural key within the file are quarantined (DUPLICATE_KEY)."""
    key = sql.SQL(", ").join(map(sql.Identifier, kind.natural_key))
    shown = sql.SQL(" || ', ' || ").join(
        sql.SQL("coalesce({}::text, '')").format(sql.Identifier(k)) for k in kind.natural_key)
    conn.execute(sql.SQL(
        "with ranked as (select ctid, source_row, {shown} as key_text,"
        "   row_number() over (partition by {key} order by source_row) as n,"
        "   first_value(source_row) over (partition by {key} order by source_row) as first_row"
        "   from _stage where _reasons is null)"
        " update _stage s set _reasons = array[%(code)s],"
        "   _message = %(file)s || ' row ' || r.source_row || ': natural key (' || %(names)s || ') = ('"
        "     || r.key_text || ') already appeared at row ' || r.first_row"
        "     || '; each key may occur once per file: the department must merge or correct the records'"
        " from ranked r where s.ctid = r.ctid and r.n > 1"
    ).format(shown=shown, key=key), {"code": reasons.DUPLICATE_KEY, "file": rel,
                                      "names": ", ".join(kind.natural_key)})


def _quarantine(conn: psycopg.Connection, batch_id: int, feed: str, rel: str) -> None:
    conn.execute(
        "insert into quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes, message,"
        " raw_record) select %s, %s, %s, source_row, _reasons, _message, _raw from _stage"
        " where _reasons is not null order by source_row",
        (batch_id, feed, rel),
    )


def _register_persons(conn: psycopg.Connection, batch_id: int) -> None:
    """Clear personal ID numbers go only to restricted.person_identity (first batch wins)."""
    conn.execute(
        "insert into restricted.person_identity (id_hash, id_number, id_type, id_masked, first_batch_id)"
        " select distinct on (p->>0) p->>0, p->>1, p->>2, p->>3, %s"
        " from _stage, jsonb_array_elements(_persons) as p where _reasons is null and _persons is not null"
        " order by p->>0 on conflict (id_hash) do nothing",
        (batch_id,),
    )


def _append(conn: psycopg.Connection, raw_table: str, columns: list[str]) -> None:
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(sql.SQL("insert into {} ({}) select {} from _stage where _reasons is null order by source_row")
                 .format(sql.Identifier(*raw_table.split(".")), cols, cols))


def _drift_note(rel: str, drift: set[str]) -> list[str]:
    if not drift:
        return []
    return [f"{reasons.FIELD_DRIFT}: {rel} carries field(s) the spec does not know: {', '.join(sorted(drift))}; "
            "loaded without them. Map them or list them under 'ignored' in the feed spec"]


def _record_failure(spec: FeedSpec, day: date, rel: str, sha: str, size: int, started: datetime,
                    result: FileResult, dsn: str) -> int:
    """A failed file is recorded in its own transaction, so the failure survives the rollback."""
    with db.transaction(dsn, role="loader") as conn:
        return conn.execute(
            "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
            " encoding, field_set, status, message, started_at) values (%s, %s, %s, %s, %s, %s, %s,"
            " 'failed', %s, %s) returning batch_id",
            (spec.feed, day, rel, size, sha, result.encoding, result.field_set, result.message, started),
        ).fetchone()[0]


def landing_root_or_default(landing_root: Path | None) -> Path:
    return Path(landing_root) if landing_root else config.landing_root()
