"""Columnar load of CSV delta files: byte blocks split in polars, each distinct value validated once,
COPY by the server while the next block is validated.

Why this design (issue 9, part 2: "as fast as the server can store it"):

- *Reading on whole byte blocks* (``CsvSource.blocks``): the file is read in ``BLOCK_BYTES``
  blocks cut at a line end. A block without a quote and without control characters (two C-speed
  scans of the bytes) is decoded in one call and split into lines and fields by polars
  (``read_csv`` on a separator that cannot occur, then ``split_exact`` on commas): no Python
  per line. Lines with another field count, blank lines and lines with a CR inside take the row
  path. A block with a quote or a control character goes through the record reader
  (``candidates()``), which finds multi-line records exactly as the row engine does, until the
  record boundaries are back at a block end.
- *Validation by column*: free-text fields and identifiers without a validator are cleaned with
  vectorised string expressions (trim, NFKC, upper case); only values holding a 15+ digit run go
  through the Python ID masking. Every other field is validated once per *distinct* value (with
  the fields it depends on, e.g. the ID type): the common valid case by vectorised rules (dates,
  date-times, amounts, USCC and resident-ID check characters), everything else — every error
  message included — by the row path's own ``RowValidator._field``, so results are identical
  whichever way a value goes. Outcomes are added to the block as columns (``hstack``), never
  joined onto the whole block, so the source columns are not copied once per field.
- *Block COPY, no per-row conversion*: accepted rows are written by polars' CSV writer and sent
  by one ``COPY … (FORMAT csv)`` per block straight into the raw table (no stage table, no
  ``write_row``, no ``analyze``). Rejected rows — and only they — get their raw line, masked, and
  the row path's message. Clear personal IDs are staged per block and go into
  ``restricted.person_identity`` by one set-based insert per file, in hash order (first row wins).
- *Two cores*: the SQL runs in a writer thread (``_Writer``) on the load's connection while the
  main thread parses and validates the next block; libpq and polars release the GIL, so the
  load takes about max(validate, store), not their sum. One transaction per file as before: a
  killed load leaves nothing, and ``rows_read = loaded + rejected`` holds per file.
- *No per-row FK where the loader guarantees the batch* (V071 for raw, V130 for the person
  register).

Duplicate natural keys are found through a 64-bit hash of the key per accepted row (16 bytes a
row, not the rows) and confirmed in SQL on the candidates only; the 2nd and later occurrences
move from raw to the quarantine with the usual message. Memory is bounded by the block size
(``BLOCK_BYTES``, ``WRITES_AHEAD`` blocks queued for the writer), not by the file.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psycopg
from psycopg import sql

from credit_dw import identifiers as ids
from credit_dw.feeds import FieldSpec, FileKind, canonical_header
from credit_dw.ingest import reasons
from credit_dw.ingest.readers import CsvSource, Record
from credit_dw.ingest.reasons import Issue
from credit_dw.ingest.validation import RowOutcome, RowValidator, mask_personal_ids

BLOCK_BYTES = 3 << 20  # plain bytes read and validated at a time: bounds memory (peak RSS ~250 MiB)
BLOCK_LINES = 8_000  # records per block where records take the row path (quotes, control characters)
KNOWN_LIMIT = 10_000  # outcomes kept per field between blocks (values that repeat: dates, codes)
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\r]")  # Python strips \x1c-\x1f, Rust does not
WRITES_AHEAD = 2  # blocks validated but not yet written: the validating thread runs this far ahead
DUPLICATE_BATCH = 10_000  # duplicate rows quarantined at a time (their verbatim records in memory)
_DIGITS15 = r"\d{15}"


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    warned: int = 0
    # (key hash, source_row, warned) of every accepted row: 13 bytes a row, the only per-file state
    hashes: list[pl.DataFrame] = field(default_factory=list)


def repeated(hashes: np.ndarray) -> np.ndarray:
    """True at every position whose hash occurs more than once (first occurrence included).

    By sorting, not polars' ``is_duplicated``: that builds a hash table of about 110 bytes per
    row (110 MiB above the rest for one file of a million rows, measured), which made the
    ingest's peak grow with the size of a file. Sorting costs the order and the sorted copy,
    16 bytes a row, plus two masks of one byte (+26.8 MiB for a million hashes; numpy's
    ``unique(return_inverse=True, return_counts=True)`` gives the same mask for +73.5 MiB).
    """
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = ordered[1:] == ordered[:-1]
    del ordered
    in_order = np.zeros(len(hashes), dtype=bool)
    in_order[1:] |= same
    in_order[:-1] |= same
    mask = np.empty_like(in_order)
    mask[order] = in_order
    return mask


def eligible(kind: FileKind) -> bool:
    """CSV files appended to their raw table (the snapshot merge keeps the stage-table path), whose
    spec names no row hooks (``derived``: computed per accepted row by the record path only)."""
    return kind.format == "csv" and kind.change_semantics != "daily_snapshot" and not kind.derived


def load(conn: psycopg.Connection, source: CsvSource, validator: RowValidator, kind: FileKind,
         columns: list[str], batch_id: int, feed: str, rel: str) -> Counts:
    """Validate and load every record of ``source`` into ``kind.raw_table``; returns the counts."""
    loader = _Loader(conn, source, validator, kind, columns, batch_id, feed, rel)
    with _Writer(conn) as writer:
        loader.writer = writer
        writer.submit(_create_persons)
        for block in source.blocks(BLOCK_BYTES, BLOCK_LINES):
            if block[0] == "text":
                loader.text(*block[1:])
            else:
                loader.block(block[1])
        writer.submit(partial(_register_persons, batch_id=batch_id))
    loader.reject_duplicates()
    return loader.counts


class _Writer:
    """The load's SQL, in order, on its connection, in a thread of its own.

    Why: the server stores block *n* (COPY into raw, the quarantine, the person stage) while this
    process parses and validates block *n + 1*; polars and libpq release the GIL, so on two cores
    the load takes about max(validate, store) instead of their sum. The connection (one
    transaction: a killed load still leaves nothing) is used by this thread alone until
    ``close``; a failed statement stops the writes and is raised in the validating thread.
    """

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.jobs: queue.Queue = queue.Queue(maxsize=WRITES_AHEAD)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="columnar-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job(self.conn)
                except BaseException as exc:  # handed to the validating thread
                    self.error = exc

    def submit(self, job: Any) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put(job)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None and exc_type is None:
            raise self.error


def _create_persons(conn: psycopg.Connection) -> None:
    try:  # the stage outgrows the default 8 MB of local buffers, spilling to disk (2-3x slower)
        with conn.transaction():  # a savepoint: allowed only before the session's first temp table
            conn.execute("set local temp_buffers = '64MB'")
    except psycopg.Error:
        pass
    conn.execute("create temp table if not exists _persons (h text, n text, t text, m text, r bigint)"
                 " on commit drop")
    conn.execute("truncate _persons")


def _register_persons(conn: psycopg.Connection, batch_id: int) -> None:
    """Clear personal ID numbers go only to restricted.person_identity (the file's first row wins,
    an earlier batch's row stays): one set-based insert per file, in hash order.

    Measured against one insert per block (arrays or a stage per block): twice the server time,
    because the register's primary key is then filled in random order block after block.
    """
    conn.execute("insert into restricted.person_identity (id_hash, id_number, id_type, id_masked,"
                 " first_batch_id) select distinct on (h) h, n, t, m, %s from _persons order by h, r"
                 " on conflict (id_hash) do nothing", (batch_id,))


_STAGE_PERSONS = sql.SQL("copy _persons (h, n, t, m, r) from stdin (format csv)")


def _copy_frame(conn: psycopg.Connection, statement: sql.Composable, rows: pl.DataFrame) -> None:
    """A block's rows as CSV into a ``COPY … (format csv)``: written here, in the writer thread
    (polars releases the GIL), straight into the COPY stream, never as one buffer."""
    with conn.cursor().copy(statement) as copy:
        rows.write_csv(_CopyStream(copy), include_header=False)


class _CopyStream:
    """A file-like ``write`` onto a COPY, for polars' CSV writer."""

    def __init__(self, copy: psycopg.Copy):
        self.copy = copy

    def write(self, data: bytes) -> int:
        self.copy.write(data)
        return len(data)


def _copy_rows(conn: psycopg.Connection, statement: sql.Composable, rows: list[tuple]) -> None:
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


_QUARANTINE = sql.SQL("copy quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes,"
                      " message, raw_record) from stdin")


class _Loader:
    writer: _Writer

    def __init__(self, conn: psycopg.Connection, source: CsvSource, validator: RowValidator, kind: FileKind,
                 columns: list[str], batch_id: int, feed: str, rel: str):
        self.conn, self.source, self.validator, self.kind = conn, source, validator, kind
        self.columns, self.batch_id, self.feed, self.rel = columns, batch_id, feed, rel
        self.counts = Counts()
        self.header = source.header
        self.width = len(self.header)
        self.fields = validator.field_set.fields
        self.constants = validator.field_set.constants
        self.known: dict[int, pl.DataFrame] = {}
        validator.drift.update(h for h in self.header if h not in validator._known)
        self._issues: dict[str | None, list[Issue]] = {}
        self.table = sql.Identifier(*kind.raw_table.split("."))
        self.copy_cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        self.copy_csv = sql.SQL("copy {} ({}) from stdin (format csv)").format(self.table, self.copy_cols)
        self.copy_text = sql.SQL("copy {} ({}) from stdin").format(self.table, self.copy_cols)

    # --- one block ---------------------------------------------------------------------------

    def text(self, first: int, data: bytes, text: str) -> None:
        """Plain lines (no quote, no control character): split on commas, all in polars.

        A line with the header's field count is a record; any other line (a blank one, a field
        too many or too few, a CR inside) takes the row path, which rejects or skips it as it
        always did.
        """
        utf8 = data if self.source.codec == "utf-8" else text.encode("utf-8")
        # one string per line (the separator never occurs in a plain block); an empty line is null
        lines = pl.read_csv(utf8, has_header=False, separator="\x1f", quote_char=None, new_columns=["_line"],
                            schema={"_line": pl.String})["_line"]
        del utf8
        expected = text.count("\n") + (not text.endswith("\n"))
        if len(lines) != expected or text.startswith("\ufeff"):  # never trust a parser blindly
            self._slow([(first + i, [line + b"\n"], None) for i, line in enumerate(data.split(b"\n")[:expected])])
            return
        line = pl.col("_line").fill_null("").str.strip_chars_end("\r")
        frame = pl.DataFrame([lines]).with_columns(line, pl.int_range(first, first + len(lines)).alias("_row"))
        plain = ((pl.col("_line").str.count_matches(",", literal=True) == self.width - 1)
                 & (pl.col("_line").str.strip_chars(" \t") != "") & ~pl.col("_line").str.contains("\r", literal=True))
        frame = frame.with_columns(plain.alias("_plain"))
        other = frame.filter(~pl.col("_plain"))
        frame = frame.filter(pl.col("_plain")).drop("_plain")
        if frame.height:
            fields = frame.select(pl.col("_line").str.split_exact(",", self.width - 1).alias("_f")).unnest("_f")
            fields.columns = self.header
            frame = pl.concat([fields, frame], how="horizontal").with_columns(pl.int_range(frame.height).alias("_i"))
            self.counts.read += frame.height
            self._validate_and_copy(frame)
        if other.height:
            raw = data.split(b"\n")
            self._slow([(row, [raw[row - first] + b"\n"], None) for row in other["_row"]])

    def block(self, block: list[tuple[int, list[bytes], str | None]]) -> None:
        """Candidates of the row path's reader; plain lines among them still go the columnar way."""
        plain_rows: list[int] = []
        plain_lines: list[bytes] = []
        slow: list[tuple[int, list[bytes], str | None]] = []
        commas = self.width - 1
        for line_no, lines, problem in block:
            if len(lines) == 1 and problem is None:
                line = lines[0].rstrip(b"\r\n")
                if (line.count(b",") == commas and b'"' not in line and not _CONTROL.search(line)
                        and line.strip()):
                    plain_rows.append(line_no)
                    plain_lines.append(line)
                    continue
            slow.append((line_no, lines, problem))
        if plain_lines:
            self._plain(plain_rows, plain_lines, slow)
        if slow:
            self._slow(slow)

    def _plain(self, rows: list[int], lines: list[bytes], slow: list) -> None:
        codec = self.source.codec
        data = b"\n".join(lines) + b"\n"
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:  # find the bad lines; they take the row path (ENCODING)
            keep_rows, keep_lines = [], []
            for row, line in zip(rows, lines, strict=True):
                try:
                    line.decode(codec)
                except UnicodeDecodeError:
                    slow.append((row, [line], None))
                    continue
                keep_rows.append(row)
                keep_lines.append(line)
            if keep_lines:
                self._plain(keep_rows, keep_lines, slow)
            return
        utf8 = data if codec in ("utf-8", "utf-8-sig") else text.encode("utf-8")
        frame = pl.read_csv(utf8, has_header=False, new_columns=self.header, quote_char=None,
                            schema={h: pl.String for h in self.header})
        if frame.height != len(lines):  # cannot happen for plain lines; never trust it blindly
            slow.extend((row, [line], None) for row, line in zip(rows, lines, strict=True))
            return
        frame = frame.with_columns(pl.Series("_row", rows, dtype=pl.Int64), pl.int_range(len(rows)).alias("_i"),
                                   pl.Series("_line", text.split("\n")[:-1], dtype=pl.String))
        self.counts.read += frame.height
        self._validate_and_copy(frame)

    def _validate_and_copy(self, frame: pl.DataFrame) -> None:
        """``frame``: the source fields, ``_row`` (line number), ``_i`` (position), ``_line`` (raw text).

        Outcome columns are only ever added (``hstack``), never joined onto the whole frame, so
        the source columns are not copied once per field.
        """
        outputs: dict[str, list[tuple[pl.Expr, pl.Expr | None]]] = {}   # column -> [(set flag, value)]
        lists: dict[str, list[pl.Expr]] = {}
        error_flags: list[pl.Expr] = []
        warn_flags: list[pl.Expr] = []
        issue_cols: list[tuple[int, str]] = []  # (field index, column holding the issue id)
        person_cols: list[str] = []
        missing = {canonical_header(spec.source) for spec in self.fields} - set(frame.columns)
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in sorted(missing))
        frame = self._vector_fields(frame)
        for index, spec in enumerate(self.fields):
            name = canonical_header(spec.source)
            if _vectorisable(spec):
                if spec.column:
                    outputs.setdefault(spec.column, []).append((pl.col(f"_v{index}").is_not_null(),
                                                                pl.col(f"_v{index}")))
                if spec.required:
                    error_flags.append(pl.col(f"_e{index}"))
                    issue_cols.append((index, f"_e{index}"))
            else:
                frame = self._mapped_field(frame, index, spec, name, outputs, lists, error_flags, warn_flags,
                                           issue_cols, person_cols)
        rejected = pl.any_horizontal(error_flags).fill_null(False) if error_flags else pl.lit(False)
        warned = pl.any_horizontal(warn_flags).fill_null(False) if warn_flags else pl.lit(False)
        frame = frame.with_columns(rejected.alias("_rejected"))
        if frame["_rejected"].any():
            self._quarantine_plain(frame.filter(pl.col("_rejected")), issue_cols)
            frame = frame.filter(~pl.col("_rejected"))
        self._copy_accepted(frame, outputs, lists, person_cols, warned)

    # --- fields ------------------------------------------------------------------------------

    def _vector_fields(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Free text and identifiers without validator, all in one pass: ``_v<i>`` trimmed (NFKC,
        upper case for identifiers) and ID-masked, ``_e<i>`` empty where the field is required.

        Only values holding a run of 15 digits go through Python (``mask_personal_ids``).
        """
        fields = [(index, spec) for index, spec in enumerate(self.fields) if _vectorisable(spec)]
        if not fields:
            return frame
        cleaned = []
        for index, spec in fields:
            value = pl.col(canonical_header(spec.source)).str.strip_chars()
            value = pl.when(value == "").then(None).otherwise(value)
            if spec.type == "identifier":
                value = value.str.normalize("NFKC").str.strip_chars().str.to_uppercase()
            cleaned.append(value.alias(f"_v{index}"))
        frame = frame.with_columns(cleaned)
        suspects = frame.select(pl.col(f"_v{index}").str.contains(_DIGITS15).fill_null(False) for index, _ in fields)
        masked = []
        for column in suspects.columns:
            at = suspects[column].arg_true()
            if len(at):
                values = [mask_personal_ids(v) for v in frame[column].gather(at)]
                masked.append(frame[column].scatter(at, values))
        return frame.with_columns(*masked, *(pl.col(f"_v{index}").is_null().alias(f"_e{index}")
                                             for index, spec in fields if spec.required))

    def _mapped_field(self, frame: pl.DataFrame, index: int, spec: FieldSpec, name: str, outputs: dict,
                      lists: dict, error_flags: list, warn_flags: list, issue_cols: list,
                      person_cols: list) -> pl.DataFrame:
        """Any other field: the row path's own ``_field`` once per distinct (value, dependencies).

        Outcomes already known from earlier blocks are kept as a small polars frame per field
        (dropped when it grows past ``KNOWN_LIMIT``, so memory stays bounded for fields whose
        values never repeat, like personal ID numbers); only new keys go through Python.
        """
        deps = [name, *[canonical_header(d) for d in (spec.id_type_field, spec.party_type_field) if d]]
        deps = list(dict.fromkeys(deps))
        for d in deps:
            if d not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(d))
        distinct = frame.select(deps).unique()
        known = self.known.get(index)
        new = distinct if known is None else distinct.join(known.select(deps), on=deps, how="anti",
                                                            nulls_equal=True)
        if new.height:
            decided, new = self._fast_outcomes(index, spec, name, new)
            fresh = self._outcomes(index, spec, name, deps, new) if new.height else None
            fresh = pl.concat([f for f in (decided, fresh) if f is not None], how="diagonal_relaxed")
            if known is not None and known.height > KNOWN_LIMIT:  # forget all but this block's keys
                known = known.join(distinct, on=deps, how="semi", nulls_equal=True)
            known = fresh if known is None else pl.concat([known, fresh], how="diagonal_relaxed")
            self.known[index] = known
        found = frame.select(deps).join(known, on=deps, how="left", nulls_equal=True, maintain_order="left")
        frame = frame.hstack(found.drop(deps))
        prefix = f"_m{index}_"
        for column in known.columns:
            if not column.startswith(prefix) or column.endswith("_set"):
                continue
            target = column[len(prefix):]
            if target in ("err", "warn", "issues") or target.startswith("p_"):
                continue
            if spec.type == "enum_list" and target == spec.column:
                lists.setdefault(target, []).append(pl.col(column))
            else:
                outputs.setdefault(target, []).append((pl.col(column + "_set"), pl.col(column)))
        error_flags.append(pl.col(prefix + "err"))
        warn_flags.append(pl.col(prefix + "warn"))
        issue_cols.append((index, prefix + "issues"))
        if prefix + "p_hash" in known.columns:
            person_cols.append(prefix + "p_")
        return frame

    def _fast_outcomes(self, index: int, spec: FieldSpec, name: str,
                       keys: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame]:
        """Outcomes decided by vectorised rules for the common, valid case; the rest for Python.

        Only *valid* values are decided here (ASCII, so NFKC changes nothing): dates in the three
        accepted layouts that are calendar dates (and not after the delivery, where the spec says
        so); date-times ``YYYY-MM-DD HH:MM:SS`` that are real instants; plain decimal amounts
        exact to the fen and in range; USCCs of the right shape whose GB 32100 check character
        matches and that cannot be a resident ID (not all digits), or that the record's party type
        (or the spec: ``authoritative``) says belong to an organisation; organisation codes (GB 11714)
        and 15-digit registration numbers (ISO 7064 MOD 11,10) whose check matches. Registers are
        where this matters: there every code is distinct, so "each distinct value once" is once a row.
        Everything else, every error message included, comes from ``RowValidator._field`` exactly as
        in the row path.
        """
        if spec.type == "person_id" and not spec.derive and not spec.column:
            return self._fast_persons(index, spec, name, keys)
        if spec.derive or not spec.column or not (
                spec.type in ("date", "timestamp", "amount_wan", "amount_cny")
                or (spec.type == "identifier" and spec.validator in _FAST_IDENTIFIERS)):
            return None, keys
        text = pl.col(name).str.strip_chars()
        ascii_ = text.str.contains(r"^[\x21-\x7e]+$")
        if spec.type == "timestamp":
            value = text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
            out = value.dt.strftime("%Y-%m-%d %H:%M:%S")  # what isoformat(sep=" ") prints, seconds whole
            ok = text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$") & (out == text) & (
                text.str.slice(0, 4) != "0000")  # a leap second rolls over in polars: (out == text) catches it
        elif spec.type in ("amount_wan", "amount_cny"):
            out, ok = _amount_expr(text, spec.type)
        elif spec.type == "date":
            value = _date_expr(text)
            ok = value.is_not_null()
            if spec.not_after_delivery and self.validator.delivery_date is not None:
                ok = ok & (value <= pl.lit(self.validator.delivery_date))
            iso = value.dt.strftime("%Y-%m-%d")
            out = pl.when(iso.is_in(list(spec.open_ended))).then(None).otherwise(iso) if spec.open_ended else iso
        elif spec.validator == "org_code":  # GB 11714: 8 symbols and a check, the printed hyphen dropped
            out = text.str.to_uppercase().str.replace_all("-", "", literal=True)
            ok = ascii_ & out.str.contains(r"^[0-9A-Z]{8}[0-9X]$")
        elif spec.validator == "registration_number":  # 15 digits, ISO 7064 MOD 11,10
            out = text
            ok = text.str.contains(r"^[0-9]{15}$")
        else:
            code = text.str.to_uppercase()
            organisation = ~code.str.contains(r"^\d{17}[\dX]$")  # else it may be a person's resident ID
            if spec.authoritative:
                organisation = pl.lit(True)
            elif spec.party_type_field:  # the record's party type decides first (RowValidator._is_person)
                party = pl.col(canonical_header(spec.party_type_field)).str.strip_chars()
                organisation = organisation | ((party != "") & ~party.str.normalize("NFKC").is_in(
                    list(spec.person_types)))
            ok = ascii_ & code.str.contains(_USCC_SHAPE) & organisation
            out = code
        prefix = f"_m{index}_"
        decided = keys.with_columns(ok.fill_null(False).alias("_ok"), out.alias("_out"))
        if spec.type == "identifier":  # the shape is right: does the check character match?
            decided = decided.with_columns(_FAST_IDENTIFIERS[spec.validator](decided["_out"], decided["_ok"]))
        fast = decided.filter(pl.col("_ok"))
        if fast.height == 0:
            return None, keys
        columns = [pl.col("_out").cast(pl.String).alias(prefix + spec.column),
                   pl.lit(True).alias(prefix + spec.column + "_set")]
        if spec.flag_column:
            columns += [pl.lit("f").alias(prefix + spec.flag_column),
                        pl.lit(True).alias(prefix + spec.flag_column + "_set")]
        columns += [pl.lit(False).alias(prefix + "err"), pl.lit(False).alias(prefix + "warn"),
                    pl.lit(None, dtype=pl.String).alias(prefix + "issues")]
        fast = fast.with_columns(columns).drop("_ok", "_out")
        return fast, decided.filter(~pl.col("_ok")).drop("_ok", "_out")

    def _fast_persons(self, index: int, spec: FieldSpec, name: str,
                      keys: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame]:
        """Valid clear resident IDs with ID type 01: checked, masked vectorised, HMAC per value."""
        text = pl.col(name).str.strip_chars()
        if spec.id_type_field:
            given = pl.col(canonical_header(spec.id_type_field)).str.strip_chars()
            id_type = pl.when(given.is_null() | (given == "")).then(pl.lit(spec.id_type)).otherwise(given)
        else:
            id_type = pl.lit(spec.id_type, dtype=pl.String)
        number = text.str.to_uppercase()
        ok = text.str.contains(r"^[0-9]{17}[0-9Xx]$") & (id_type == "01")
        decided = keys.with_columns(ok.fill_null(False).alias("_ok"), number.alias("_n"))
        decided = decided.with_columns(_check_matches(decided["_n"], decided["_ok"], _RESIDENT_CHECK))
        fast = decided.filter(pl.col("_ok"))
        if fast.height == 0:
            return None, keys
        key = self.validator.pii_key
        numbers = fast["_n"].to_list()
        prefix = f"_m{index}_"
        masked = pl.concat_str(pl.col("_n").str.slice(0, 4), pl.lit("*" * 10), pl.col("_n").str.slice(14, 4))
        columns = [pl.Series(prefix + "p_hash", [ids.pii_hash(n, key) for n in numbers], dtype=pl.String)]
        fast = fast.with_columns(columns).with_columns(
            pl.col("_n").alias(prefix + "p_number"), pl.lit("01").alias(prefix + "p_type"),
            masked.alias(prefix + "p_masked"))
        outputs = []
        for column, source in ((spec.type_column, pl.lit("01")), (spec.hash_column, pl.col(prefix + "p_hash")),
                               (spec.masked_column, pl.col(prefix + "p_masked"))):
            if column:
                outputs += [source.alias(prefix + column), pl.lit(True).alias(prefix + column + "_set")]
        outputs += [pl.lit(False).alias(prefix + "err"), pl.lit(False).alias(prefix + "warn"),
                    pl.lit(None, dtype=pl.String).alias(prefix + "issues")]
        fast = fast.with_columns(outputs).drop("_ok", "_n")
        return fast, decided.filter(~pl.col("_ok")).drop("_ok", "_n")

    def _outcomes(self, index: int, spec: FieldSpec, name: str, deps: list[str], keys: pl.DataFrame) -> pl.DataFrame:
        """Validate each key with ``RowValidator._field``; one row of outcome columns per key."""
        results = []
        for key in keys.iter_rows():
            out = RowOutcome(0, "")
            self.validator._field(spec, name, dict(zip(deps, key, strict=True)), out)
            if out.issues:
                self._issues.setdefault(_issue_key(out.issues), out.issues)
            results.append((out.values, out.issues, out.persons))
        prefix = f"_m{index}_"
        produced = sorted({c for values, _, _ in results for c in values})
        mapping: dict[str, list] = {d: keys[d].to_list() for d in deps}
        schema: dict[str, Any] = {d: pl.String for d in deps}
        for column in produced:
            if spec.type == "enum_list" and column == spec.column:
                mapping[prefix + column] = [_pg_array(values.get(column) or [])[1:-1] or None
                                            for values, _, _ in results]
            else:
                mapping[prefix + column + "_set"] = [column in values for values, _, _ in results]
                schema[prefix + column + "_set"] = pl.Boolean
                mapping[prefix + column] = [_copy_text(values.get(column)) for values, _, _ in results]
            schema[prefix + column] = pl.String
        mapping[prefix + "err"] = [any(not i.warning for i in issues) for _, issues, _ in results]
        mapping[prefix + "warn"] = [any(i.warning for i in issues) for _, issues, _ in results]
        mapping[prefix + "issues"] = [_issue_key(issues) for _, issues, _ in results]
        schema |= {prefix + "err": pl.Boolean, prefix + "warn": pl.Boolean, prefix + "issues": pl.String}
        if any(persons for _, _, persons in results):  # a field yields at most one person
            for i, part in enumerate(("hash", "number", "type", "masked")):
                mapping[prefix + "p_" + part] = [persons[0][i] if persons else None for _, _, persons in results]
                schema[prefix + "p_" + part] = pl.String
        return pl.DataFrame(mapping, schema=schema)

    # --- writing -----------------------------------------------------------------------------

    def _copy_accepted(self, good: pl.DataFrame, outputs: dict, lists: dict, person_cols: list[str],
                       warned: pl.Expr) -> None:
        if good.height == 0:
            return
        exprs = []
        for column in self.columns:
            if column == "batch_id":
                expr = pl.lit(str(self.batch_id))
            elif column == "source_file":
                expr = pl.lit(self.rel)
            elif column == "source_row":
                expr = pl.col("_row").cast(pl.String)
            elif column in lists:  # enum lists of several fields concatenate, like the row path
                inner = pl.concat_str(lists[column], separator=",", ignore_nulls=True)
                expr = pl.concat_str(pl.lit("{"), inner.fill_null(""), pl.lit("}"))
            else:
                constant = self.constants.get(column)
                expr = pl.lit(_copy_text(constant), dtype=pl.String)
                for is_set, value in outputs.get(column, []):
                    expr = pl.when(is_set.fill_null(False)).then(value).otherwise(expr)
            exprs.append(expr.cast(pl.String).alias(column))
        out = good.select(exprs)
        flags = good.select(warned.alias("warned"))["warned"]
        self._hash_keys(out, flags)
        self.writer.submit(partial(_copy_frame, statement=self.copy_csv, rows=out))
        self.counts.loaded += good.height
        self.counts.warned += flags.sum()
        self._persons(good, person_cols)

    def _hash_keys(self, out: pl.DataFrame, warned: pl.Series) -> None:
        key = list(self.kind.natural_key)
        self.counts.hashes.append(out.select(
            pl.struct(key).hash(seed=0).alias("h"), pl.col("source_row").cast(pl.Int32).alias("row"),
            warned.alias("warned")))

    def _persons(self, good: pl.DataFrame, person_cols: list[str]) -> None:
        """(hash, number, type, masked, row) of every person of the accepted rows, to the register."""
        parts = ("hash", "number", "type", "masked")
        frames = [good.select([*(pl.col(prefix + p).alias(p) for p in parts), pl.col("_row")]).drop_nulls("hash")
                  for prefix in person_cols]
        people = pl.concat(frames) if frames else None
        if people is None or people.height == 0:
            return
        self._register(people)

    def _register(self, people: pl.DataFrame) -> None:
        """The block's persons to the writer's stage (``_register_persons`` inserts them per file)."""
        self.writer.submit(partial(_copy_frame, statement=_STAGE_PERSONS,
                                   rows=people.select("hash", "number", "type", "masked", "_row")))

    def _quarantine_plain(self, bad: pl.DataFrame, issue_cols: list[tuple[int, str]]) -> None:
        rows = []
        for record in bad.select("_row", "_line", *[c for _, c in issue_cols]).iter_rows():
            row, line, *found = record
            issues: list[Issue] = []
            for (index, _column), value in zip(issue_cols, found, strict=True):
                if isinstance(value, bool):
                    if value:
                        spec = self.fields[index]
                        issues.append(Issue(reasons.MISSING_REQUIRED, spec.source,
                                            f"required field {spec.source} is empty; the department must fill it"))
                elif value is not None:
                    issues.extend(self._issues[value])
            rows.append(RowOutcome(row, line, issues=issues))
        self._quarantine(rows)

    def _quarantine(self, outcomes: list[RowOutcome]) -> None:
        rows = [(self.batch_id, self.feed, self.rel, out.source_row, out.reason_codes,
                 mask_personal_ids(out.message(self.rel)), mask_personal_ids(out.raw))
                for out in sorted(outcomes, key=lambda o: o.source_row)]
        self.writer.submit(partial(_copy_rows, statement=_QUARANTINE, rows=rows))
        self.counts.rejected += len(outcomes)

    # --- the row path for what is not plain --------------------------------------------------

    def _slow(self, candidates: list[tuple[int, list[bytes], str | None]]) -> None:
        """Record at a time; the block's accepted rows go into the same raw table by one COPY."""
        accepted: list[RowOutcome] = []
        rejected: list[RowOutcome] = []
        rows: list[list] = []
        people: dict[str, tuple] = {}
        known = set(self.columns)
        for line_no, lines, problem in candidates:
            for record in self.source.to_records(line_no, lines, problem):
                self.counts.read += 1
                out = self.validator.validate(record)
                if out.rejected:
                    rejected.append(out)
                    continue
                unknown = set(out.values) - known
                if unknown:  # a spec bug, not a data problem: fail loudly
                    raise RuntimeError(f"feed spec maps to columns {sorted(unknown)} missing from the raw table")
                row = {**out.values, "batch_id": self.batch_id, "source_file": self.rel,
                       "source_row": out.source_row}
                rows.append([row.get(c) for c in self.columns])
                for p in out.persons:
                    people.setdefault(p[0], (*p, out.source_row))
                accepted.append(RowOutcome(out.source_row, "", {k: out.values.get(k) for k in
                                                                self.kind.natural_key}, out.issues))
        if rows:
            self.writer.submit(partial(_copy_rows, statement=self.copy_text, rows=rows))
        if rejected:
            self._quarantine(rejected)
        if not accepted:
            return
        if people:
            self._register(pl.DataFrame(list(people.values()), schema=["hash", "number", "type", "masked", "_row"],
                                        orient="row"))
        keys = pl.DataFrame({k: [_copy_text(o.values.get(k)) for o in accepted] for k in self.kind.natural_key},
                            schema={k: pl.String for k in self.kind.natural_key})
        flags = pl.Series("warned", [o.warned for o in accepted], dtype=pl.Boolean)
        self._hash_keys(keys.with_columns(pl.Series("source_row", [o.source_row for o in accepted])), flags)
        self.counts.loaded += len(accepted)
        self.counts.warned += flags.sum()

    # --- duplicates --------------------------------------------------------------------------

    def reject_duplicates(self) -> None:
        """2nd and later occurrences of a natural key in the file move from raw to the quarantine.

        Memory stays bounded however many rows repeat (a department sending its file twice in one
        makes half the rows duplicates): the candidates go to the server by COPY, the duplicates
        are found and deleted there, and their quarantine rows are written ``DUPLICATE_BATCH`` at a
        time while the file is read once more, forward, for their verbatim records.
        """
        if not self.counts.hashes:
            return
        # the blocks' chunks as they are (no rechunk): a copy of them all would double this state
        hashes = pl.concat(self.counts.hashes, rechunk=False)
        self.counts.hashes.clear()
        candidates = hashes.filter(repeated(hashes["h"].to_numpy())).select("row", "warned")
        del hashes
        if candidates.height == 0:
            return
        conn = self.conn
        conn.execute("drop table if exists _dup_candidates, _duplicates")
        conn.execute("create temp table _dup_candidates (source_row int primary key, warned boolean)"
                     " on commit drop")
        _copy_frame(conn, sql.SQL("copy _dup_candidates from stdin (format csv)"), candidates)
        del candidates
        key = sql.SQL(", ").join(map(sql.Identifier, self.kind.natural_key))
        shown = sql.SQL(" || ', ' || ").join(
            sql.SQL("coalesce({}::text, '')").format(sql.Identifier(k)) for k in self.kind.natural_key)
        conn.execute(sql.SQL(
            "create temp table _duplicates on commit drop as"
            " select r.source_row, r.first_row, r.key_text, c.warned from (select source_row, {shown} as key_text,"
            "   row_number() over (partition by {key} order by source_row) as n,"
            "   first_value(source_row) over (partition by {key} order by source_row) as first_row"
            "   from {t} where batch_id = %s and source_row in (select source_row from _dup_candidates)) r"
            " join _dup_candidates c using (source_row) where r.n > 1"
        ).format(shown=shown, key=key, t=self.table), (self.batch_id,))
        removed, warned = conn.execute("select count(*), count(*) filter (where warned) from _duplicates").fetchone()
        if not removed:
            return
        conn.execute(sql.SQL("delete from {} t using _duplicates d where t.batch_id = %s"
                             " and t.source_row = d.source_row").format(self.table), (self.batch_id,))
        names = ", ".join(self.kind.natural_key)
        with conn.cursor(name="duplicates") as dups, _ForwardRecords(self.source) as records:
            dups.execute("select source_row, first_row, key_text from _duplicates order by source_row")
            while batch := dups.fetchmany(DUPLICATE_BATCH):
                rows = []
                for row, first, key_text in batch:
                    message = (f"{self.rel} row {row}: natural key ({names}) = ({key_text}) already appeared at "
                               f"row {first}; each key may occur once per file: the department must merge or "
                               "correct the records")
                    rows.append((self.batch_id, self.feed, self.rel, row, [reasons.DUPLICATE_KEY],
                                 mask_personal_ids(message), mask_personal_ids(records.at(row))))
                _copy_rows(conn, _QUARANTINE, rows)
        self.counts.loaded -= removed
        self.counts.rejected += removed
        self.counts.warned -= warned


class _ForwardRecords:
    """The verbatim records of a CSV file by first line number, asked for in increasing order.

    The file is read once more, forward, by the same record reader as the load (a quoted
    multi-line record comes back whole), holding one record at a time: what the quarantine shows
    for rows found bad only after the file was read (duplicate keys), in bounded memory.
    """

    def __init__(self, loaded: CsvSource):
        self.codec = loaded.codec
        self.source = CsvSource(Path(loaded.path), loaded.encoding)
        self.records = iter(self.source.candidates())
        self.current: tuple[int, list[bytes]] = (0, [])

    def at(self, row: int) -> str:
        while self.current[0] < row:
            line_no, lines, _problem = next(self.records, (row, [b""], None))
            self.current = (line_no, lines)
        return b"".join(self.current[1]).decode(self.codec, "backslashreplace").rstrip("\r\n")

    def __enter__(self) -> _ForwardRecords:
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.close()


_USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


def _date_expr(text: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYYMMDD`` in ASCII digits → a date, else null.

    Only the exact layouts: a one-digit month or day, which the row path also accepts, is left to
    it (rare, and decided once per distinct value there). One shape test and one parse per layout
    instead of regex captures: this runs for every distinct date of every block.
    """
    shape = text.str.contains(r"^[0-9]{4}(?:[0-9]{4}|-[0-9]{2}-[0-9]{2}|/[0-9]{2}/[0-9]{2})$")
    separator = text.str.slice(4, 1)
    parsed = (pl.when(separator == "-").then(text.str.to_date("%Y-%m-%d", strict=False))
              .when(separator == "/").then(text.str.to_date("%Y/%m/%d", strict=False))
              .otherwise(text.str.to_date("%Y%m%d", strict=False)))
    return pl.when(shape & (text.str.slice(0, 4) != "0000")).then(parsed)  # Python has no year 0


def _amount_expr(text: pl.Expr, kind: str) -> tuple[pl.Expr, pl.Expr]:
    """(COPY text, valid?) of plain amounts: digits with at most 6 (10,000 CNY) or 2 (CNY) decimals.

    Exactly ``values.parse_amount``'s result for these: the value in fen is an integer below
    10^18, printed as ``<yuan>.<fen>``; anything else (thousands separators, more decimals, full-
    width digits, out of range) is left to the row path.
    """
    scale, digits = (6, 12) if kind == "amount_wan" else (2, 16)
    parts = text.str.extract_groups(rf"^([0-9]{{1,{digits}}})(?:\.([0-9]{{1,{scale}}}))?$")
    whole = parts.struct.field("1").cast(pl.Int64, strict=False)
    fraction = parts.struct.field("2").fill_null("").str.pad_end(scale, "0").cast(pl.Int64, strict=False)
    fen = whole * 10 ** scale + fraction if kind == "amount_wan" else whole * 100 + fraction
    ok = fen.is_not_null() & (fen < 10 ** 18)
    out = pl.concat_str((fen // 100).cast(pl.String), pl.lit("."), (fen % 100).cast(pl.String).str.zfill(2))
    return out, ok


@dataclass(frozen=True)
class _CheckRule:
    """A check-character rule over a fixed number of ASCII symbols: value of each symbol, weights,
    and the check character as a function of the weighted sum (GB 32100 for USCCs, GB 11643 for
    resident IDs, GB 11714 for organisation codes)."""

    values: np.ndarray    # 256 byte values -> symbol value
    weights: np.ndarray   # one weight per symbol before the check character
    modulus: int
    check: np.ndarray     # (sum % modulus) -> expected check byte


def _uscc_rule() -> _CheckRule:
    """From ``identifiers``' own alphabet and weights (``uscc_check_char``: (31 - sum % 31) % 31)."""
    values = np.zeros(256, dtype=np.int64)
    for i, c in enumerate(ids.USCC_ALPHABET):
        values[ord(c)] = i
    check = np.array([ord(ids.USCC_ALPHABET[(31 - r) % 31]) for r in range(31)], dtype=np.uint8)
    return _CheckRule(values, np.array(ids.USCC_WEIGHTS, dtype=np.int64), 31, check)


def _resident_rule() -> _CheckRule:
    """From ``identifiers``' own weights and check characters (``resident_id_check_char``)."""
    values = np.zeros(256, dtype=np.int64)
    values[ord("0"):ord("9") + 1] = np.arange(10)
    return _CheckRule(values, np.array(ids.RESIDENT_ID_WEIGHTS, dtype=np.int64), 11,
                      np.frombuffer(ids.RESIDENT_ID_CHECK.encode("ascii"), dtype=np.uint8))


def _org_code_rule() -> _CheckRule:
    """From ``identifiers``' own weights (``org_code_check_char``: 11 - sum % 11, 10 is X, 11 is 0)."""
    values = np.zeros(256, dtype=np.int64)
    for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        values[ord(c)] = ids.org_symbol_value(c)
    check = np.array([ord({10: "X", 11: "0"}.get(11 - r, str(11 - r))) for r in range(11)], dtype=np.uint8)
    return _CheckRule(values, np.array(ids.ORG_WEIGHTS, dtype=np.int64), 11, check)


_USCC_CHECK = _uscc_rule()          # identifiers.uscc_check_char, vectorised
_RESIDENT_CHECK = _resident_rule()  # identifiers.resident_id_check_char, vectorised
_ORG_CODE_CHECK = _org_code_rule()  # identifiers.org_code_check_char, vectorised


def _symbols(codes: pl.Series, at: pl.Series, length: int) -> np.ndarray:
    """The codes at ``at`` (all ``length`` ASCII symbols) as an n x ``length`` byte matrix."""
    text = "".join(codes.gather(at).to_list()).encode("ascii")
    return np.frombuffer(text, dtype=np.uint8).reshape(-1, length)


def _check_matches(codes: pl.Series, shaped: pl.Series, rule: _CheckRule) -> pl.Series:
    """``shaped`` (named ``_ok``) and the check character of the code matches.

    ``shaped`` must only be true for codes of ``len(rule.weights) + 1`` ASCII symbols of the rule's
    alphabet; those are laid out as a byte matrix, so the weighted sum is one matrix product
    instead of a string slice per position.
    """
    at = shaped.arg_true()
    result = np.zeros(len(codes), dtype=bool)
    if len(at):
        symbols = _symbols(codes, at, len(rule.weights) + 1)
        total = rule.values[symbols[:, :-1]] @ rule.weights
        result[at.to_numpy()] = symbols[:, -1] == rule.check[total % rule.modulus]
    return pl.Series(shaped.name, result)


def _mod_11_10_matches(codes: pl.Series, shaped: pl.Series) -> pl.Series:
    """``identifiers.mod_11_10_check_digit`` over the columns of a digit matrix: 14 vector steps
    instead of 14 Python steps per code (``shaped``: exactly 15 ASCII digits)."""
    at = shaped.arg_true()
    result = np.zeros(len(codes), dtype=bool)
    if len(at):
        digits = _symbols(codes, at, 15).astype(np.int64) - ord("0")
        product = np.full(len(digits), 10, dtype=np.int64)
        for position in range(14):
            total = (digits[:, position] + product) % 10
            product = (np.where(total == 0, 10, total) * 2) % 11
        result[at.to_numpy()] = digits[:, 14] == (11 - product) % 10
    return pl.Series(shaped.name, result)


# identifier validators decided vectorised for valid values: (codes, shaped) -> check matches
_FAST_IDENTIFIERS: dict[str, Callable[[pl.Series, pl.Series], pl.Series]] = {
    "uscc": partial(_check_matches, rule=_USCC_CHECK),
    "org_code": partial(_check_matches, rule=_ORG_CODE_CHECK),
    "registration_number": _mod_11_10_matches,
}


def _vectorisable(spec: FieldSpec) -> bool:
    return not spec.derive and not spec.flag_column and (
        spec.type == "text" or (spec.type == "identifier" and spec.validator is None))


def _copy_text(value: Any) -> str | None:
    """A validated value as COPY text (csv format: None is NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | Decimal | int):
        return str(value)
    if isinstance(value, list):
        return _pg_array(value)
    return str(value)


def _pg_array(items: Any) -> str:
    return "{" + ",".join('"' + str(i).replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


def _issue_key(issues: list[Issue]) -> str | None:
    return repr([(i.code, i.field, i.message, i.warning) for i in issues]) if issues else None


__all__ = ["Counts", "Record", "eligible", "load"]
