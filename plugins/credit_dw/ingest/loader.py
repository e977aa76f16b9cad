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
- *What was read is what is recorded*: the sha256 that decides "already loaded" is taken before
  the load and again over the bytes the reader consumed; a file that changed in between, or whose
  path names different content before commit, is refused (``FILE_CHANGED``), never loaded half old.
- *Failures are rows, not tracebacks*: a bad file, an unreadable one or a database error in the
  middle of a load is recorded as a ``failed`` manifest row with one line saying what to do; only
  when even that cannot be written (the warehouse is gone) does ``WarehouseUnavailable`` stop
  the delivery.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from credit_dw import config, db
from credit_dw.config import ConfigError
from credit_dw.feeds import FeedSpec, FileKind, canonical_header
from credit_dw.ingest import bulk, columnar, drift, reasons, snapshot
from credit_dw.ingest.readers import HashedInput, open_source
from credit_dw.ingest.reasons import FileFailure
from credit_dw.ingest.validation import RowValidator, choose_field_set, mask_personal_ids

log = logging.getLogger(__name__)

_INTERVAL_COLUMNS = ("first_seen_on", "last_seen_on", "removed_on", "previous_seen_on")
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


class WarehouseUnavailable(RuntimeError):
    """The warehouse failed and not even the failure could be recorded; one line, no traceback."""


def file_digest(path: Path) -> str:
    """sha256 of the file's content, never through a symbolic link."""
    source = HashedInput(path)
    try:
        return source.sha256()
    finally:
        source.close()


def refusal_digest(rel: str) -> str:
    """Manifest hash of an entry that is never read (a link, a folder): the hash of its name."""
    return hashlib.sha256(f"not read: {rel}".encode()).hexdigest()


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error message, masked and shortened (psycopg details may quote data)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return mask_personal_ids(text[:limit])


def load_file(spec: FeedSpec, kind: FileKind | None, path: Path, day: date, *, dsn: str,
              landing_root: Path) -> FileResult:
    """Load ``path`` (or record why it cannot be loaded); never raises for a bad file.

    Raises ``WarehouseUnavailable`` only when the database fails and the failure cannot be
    recorded either.
    """
    rel = path.relative_to(landing_root).as_posix()
    started = datetime.now(UTC)
    result = FileResult(rel, "failed", kind.name if kind else None)
    sha, size = refusal_digest(rel), 0
    try:
        if path.is_symlink():
            raise FileFailure(reasons.SYMLINK, symlink_message(path, rel, landing_root))
        sha, size = file_digest(path), path.stat().st_size
        with db.connect(dsn) as conn:
            done = conn.execute(
                "select batch_id from quality.batch_manifest where feed = %s and sha256 = %s"
                " and status = 'loaded'", (spec.feed, sha),
            ).fetchone()
        if done:
            return FileResult(rel, "skipped", kind.name if kind else None, batch_id=done[0],
                              message=f"{rel}: identical content already loaded as batch {done[0]}")
        if kind is None:
            patterns = ", ".join(k.pattern for k in spec.files)
            raise FileFailure(reasons.UNEXPECTED_FILE,
                              f"{rel} matches no file kind of feed {spec.feed} ({patterns}); "
                              "remove it from the delivery or add a file kind to the spec")
        _load(spec, kind, path, rel, day, sha, size, started, dsn, result)
    except FileFailure as failure:
        _fail(spec, day, rel, sha, size, started, result, dsn, failure.code, failure.message)
    except psycopg.errors.UniqueViolation:
        # another run loaded the same content between our check and our insert
        result.status = "skipped"
        result.message = f"{rel}: identical content loaded concurrently by another run"
    except psycopg.Error as exc:
        _fail(spec, day, rel, sha, size, started, result, dsn, reasons.DATABASE_ERROR,
              f"the warehouse failed during the load ({type(exc).__name__}: {one_line(exc)}); nothing of "
              "this file was committed: check the database, then run the ingest again")
    except (OSError, ValueError, LookupError) as exc:  # a reader choking on hostile bytes
        log.debug("unexpected error reading %s", rel, exc_info=True)
        _fail(spec, day, rel, sha, size, started, result, dsn, reasons.UNREADABLE_FILE,
              f"reading failed ({type(exc).__name__}: {one_line(exc)}); nothing was loaded: ask the "
              "department to resend the file, or report it to the pipeline team with the file")
    return result


def record_refusal(spec: FeedSpec, day: date, rel: str, code: str, message: str, *, dsn: str) -> FileResult:
    """A delivery entry that is not read at all (sub-folder, link to a folder) is still reported."""
    result = FileResult(rel, "failed")
    _fail(spec, day, rel, refusal_digest(rel), 0, datetime.now(UTC), result, dsn, code, message)
    return result


def symlink_message(path: Path, rel: str, landing_root: Path) -> str:
    """Why a link is refused, without reading (or printing) what it points to."""
    try:
        target = path.resolve(strict=False)
        inside = target.is_relative_to(landing_root.resolve())
    except (OSError, RuntimeError):
        inside = False
    where = "inside" if inside else "outside"
    return (f"{rel} is a symbolic link (to a path {where} the landing root); links are never followed: "
            "the department must deliver the file itself")


def _fail(spec: FeedSpec, day: date, rel: str, sha: str, size: int, started: datetime, result: FileResult,
          dsn: str, code: str, message: str) -> None:
    result.status = "failed"
    message = message if rel in message else f"{rel}: {message}"
    result.message = mask_personal_ids(f"{code}: {message}")
    result.rows_read = result.rows_loaded = result.rows_rejected = result.rows_warned = 0
    try:
        result.batch_id = _record_failure(spec, day, rel, sha, size, started, result, dsn)
    except psycopg.Error as exc:
        raise WarehouseUnavailable(
            f"{result.message} (and the failure could not be recorded: {type(exc).__name__}: "
            f"{one_line(exc)}); check WAREHOUSE_DSN and that the database is up, then run the ingest again"
        ) from None
    log.error("%s", result.message)


def _load(spec: FeedSpec, kind: FileKind, path: Path, rel: str, day: date, sha: str, size: int,
          started: datetime, dsn: str, result: FileResult) -> None:
    with open_source(path, kind) as source:
        result.encoding = source.encoding
        field_set = choose_field_set(kind, source.header)
        if field_set is None:
            raise FileFailure(reasons.UNKNOWN_FIELD_SET, unknown_field_set_message(rel, kind, source.header))
        result.field_set = field_set.name
        with RegisterLookup(dsn) as register, db.transaction(dsn, role="loader") as conn:
            validator = RowValidator(kind, field_set, spec.lookups, config.pii_hash_key(),
                                     delivery_date=day, known_uscc=register.contains)
            replaced: list[int] = []
            if kind.change_semantics == "daily_snapshot":
                snapshot.guard_order(conn, kind.raw_table, day, rel)
                replaced = _replace_same_day(conn, spec, kind, day)
            batch_id = conn.execute(
                "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
                " encoding, field_set, status, started_at) values (%s, %s, %s, %s, %s, %s, %s, 'loaded', %s)"
                " returning batch_id",
                (spec.feed, day, rel, size, sha, source.encoding, field_set.name, started),
            ).fetchone()[0]
            result.batch_id = batch_id
            notes = []
            if replaced:
                conn.execute("update quality.batch_manifest set status = 'superseded', message = concat_ws('; ',"
                             " message, 'superseded by batch ' || %s::text || ' (corrected snapshot of the same"
                             " day)') where batch_id = any(%s)", (batch_id, replaced))
                notes.append(f"replaces batch(es) {', '.join(map(str, replaced))}: corrected snapshot of {day}")
            # the snapshot merge probes its raw table by key: it always keeps the indexes
            rebuild = kind.change_semantics != "daily_snapshot" and bulk.large_against(conn, kind.raw_table, size)
            with bulk.indexes_built_at_end(conn, kind.raw_table, rebuild):
                if columnar.eligible(kind) and engine() == "columnar":
                    counts = columnar.load(conn, source, validator, kind, _raw_columns(conn, kind.raw_table),
                                           batch_id, spec.feed, rel)
                    _check_read(source, sha, rel)
                    read, loaded, rejected, warned = counts.read, counts.loaded, counts.rejected, counts.warned
                    stored = conn.execute("select count(*) from quality.rejected_rows where batch_id = %s",
                                          (batch_id,)).fetchone()[0]
                    total = loaded + stored
                else:
                    total, read, loaded, rejected, warned = _load_rows(conn, spec, kind, source, validator,
                                                                       batch_id, rel, sha, day, notes)
            notes[:0] = _drift_note(rel, validator.drift)
            drift.record_drift(conn, batch_id, spec.feed, rel, kind.name, field_set.name, validator.drift)
            if not (total == read == loaded + rejected):
                raise RuntimeError(f"{rel}: reconciliation failed: read {read}, stored {total}, "
                                   f"loaded {loaded}, rejected {rejected}; nothing committed")
            if warned:
                notes.append(f"{warned} row(s) loaded with warnings (see rows_warned)")
            conn.execute(
                "update quality.batch_manifest set rows_read = %s, rows_loaded = %s, rows_rejected = %s,"
                " rows_warned = %s, message = %s, finished_at = clock_timestamp() where batch_id = %s",
                (read, loaded, rejected, warned, mask_personal_ids("; ".join(notes)) or None, batch_id),
            )
            if source.changed():
                raise FileFailure(reasons.FILE_CHANGED, (
                    f"{rel} changed after it was read (replaced, appended or truncated before the load "
                    "committed); nothing was loaded: the department must not touch files after _DONE; "
                    "run the ingest again to load the current content"))
        result.status = "loaded"
        result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_warned = (
            read, loaded, rejected, warned)
        result.message = "; ".join(notes) or None
        for note in notes:
            log.warning("%s", note) if note.startswith(reasons.FIELD_DRIFT) else log.info("%s", note)


def engine() -> str:
    """``CREDIT_DW_INGEST_ENGINE``: ``columnar`` (default) for CSV delta files, or ``rows`` (the
    record-at-a-time path every other file takes; kept selectable to compare the two)."""
    value = os.environ.get("CREDIT_DW_INGEST_ENGINE", "columnar")
    if value not in ("columnar", "rows"):
        raise ConfigError(f"CREDIT_DW_INGEST_ENGINE={value!r}: use 'columnar' or 'rows'")
    return value


def _check_read(source, sha: str, rel: str) -> None:
    if source.sha256() != sha:
        raise FileFailure(reasons.FILE_CHANGED, (
            f"{rel} changed while it was being read (its content no longer has the hash taken "
            "before the load); nothing was loaded: the department must finish writing files "
            "before _DONE, then run the ingest again"))


def _load_rows(conn: psycopg.Connection, spec: FeedSpec, kind: FileKind, source, validator: RowValidator,
               batch_id: int, rel: str, sha: str, day: date, notes: list[str]) -> tuple[int, int, int, int, int]:
    """Record at a time through a temporary stage table (JSON Lines, XLSX, snapshots)."""
    columns = _stage(conn, kind.raw_table)
    read = _copy_records(conn, source, validator, columns, batch_id, rel)
    _check_read(source, sha, rel)
    conn.execute("analyze _stage")  # temp tables are never auto-analysed; the joins below need stats
    _reject_duplicates(conn, kind, rel)
    _quarantine(conn, batch_id, spec.feed, rel)
    _register_persons(conn, batch_id)
    if kind.change_semantics == "daily_snapshot":
        snapshot.guard_size(conn, spec.feed, batch_id, kind.count_bounds, rel)
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
    return total, read, loaded, rejected, warned


def _raw_columns(conn: psycopg.Connection, raw_table: str) -> list[str]:
    schema, table = raw_table.split(".")
    return [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position", (schema, table)).fetchall()]


def unknown_field_set_message(rel: str, kind: FileKind, header: list[str]) -> str:
    """Names what each field set misses; the header itself is not echoed (a header-less file's
    first line is a data row: names, ID numbers)."""
    present = set(header)
    missing = "; ".join(
        f"{fs.name} lacks {', '.join(sorted(f for f in fs.signature if canonical_header(f) not in present))}"
        for fs in kind.field_sets)
    known = sorted(present & {canonical_header(f) for fs in kind.field_sets for f in fs.known})
    return (f"{rel}: the first line ({len(header)} fields, {len(known)} known to {kind.name}"
            f"{': ' + ', '.join(known[:20]) if known else ''}) carries no known field set ({missing}); "
            "check that the file starts with the field-code header and the export template with the department")


class RegisterLookup:
    """Is a code in the registration register? Asked only for codes that are both a valid USCC and
    a valid resident ID, on a connection of its own (the load's connection is busy with COPY)."""

    def __init__(self, dsn: str):
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None
        self._seen: dict[str, bool] = {}

    def contains(self, code: str) -> bool:
        if code not in self._seen:
            if self._conn is None:
                self._conn = db.connect(self._dsn, autocommit=True)
            self._seen[code] = self._conn.execute(
                "select exists (select 1 from raw.registration where uscc = %s)", (code,)).fetchone()[0]
        return self._seen[code]

    def __enter__(self) -> RegisterLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()


def _replace_same_day(conn: psycopg.Connection, spec: FeedSpec, kind: FileKind, day: date) -> list[int]:
    """A second snapshot for a day already applied is a correction: undo the first exactly."""
    rows = conn.execute(
        "select batch_id, source_file from quality.batch_manifest where feed = %s and delivery_date = %s"
        " and status = 'loaded'", (spec.feed, day)).fetchall()
    earlier = [b for b, f in rows if kind.matches(f.rsplit("/", 1)[-1])]
    if not earlier:
        return []
    previous = conn.execute(
        "select max(delivery_date) from quality.batch_manifest where feed = %s and delivery_date < %s"
        " and status = 'loaded'", (spec.feed, day)).fetchone()[0]
    undone = snapshot.undo_day(conn, kind.raw_table, day, previous)
    log.warning("%s snapshot of %s replaced: %s", kind.raw_table, day, undone)
    return earlier


def _stage(conn: psycopg.Connection, raw_table: str) -> list[str]:
    """Temporary stage shaped like the raw table (no NOT NULLs: rejected rows are partial)."""
    schema, table = raw_table.split(".")
    conn.execute(sql.SQL("create temp table _stage on commit drop as select * from {} with no data")
                 .format(sql.Identifier(schema, table)))
    conn.execute(_STAGE_EXTRA)
    return _raw_columns(conn, raw_table)


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
