"""Columnar load of CSV delta files: parse blocks with polars, validate each distinct value once.

Why: the row-at-a-time loader spent most of its time in Python per field and per row (validation,
``write_row``, a stage table and an ``INSERT … SELECT``, masking every raw line). Here a file is
read in bounded blocks of lines; the plain lines of a block (one line per record, no quote, no
NUL, the header's field count, no control characters) are parsed by polars in one call and
validated column by column:

- free-text fields and identifiers without a validator are cleaned with vectorised string
  expressions (trim, NFKC, upper case); only values holding a 15+ digit run go through the
  Python ID masking;
- every other field (dates, amounts, enums, lookups, USCC/organisation/registration codes,
  personal IDs) is validated by the very same ``RowValidator._field`` the row path uses, once per
  *distinct* value (with the fields it depends on, e.g. the ID type), and joined back;
- accepted rows go straight into the raw table by one ``COPY … (FORMAT csv)`` per block (no stage
  table, no per-row conversion); rejected rows — and only they — get their raw line, masked, and
  the same message the row path writes.

Lines that are not plain (quoted fields, multi-line records, stray quotes, undecodable bytes, a
wrong field count) take the row path record by record, inside the same load, so results are
identical whichever path a record takes. Duplicate natural keys are found through a 64-bit hash
of the key per accepted row (16 bytes a row, not the rows) and confirmed in SQL on the candidates
only; the 2nd and later occurrences move from raw to the quarantine with the usual message.
Memory is bounded by the block size, not the file.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from credit_dw import identifiers as ids
from credit_dw.feeds import FieldSpec, FileKind, canonical_header
from credit_dw.ingest import reasons
from credit_dw.ingest.readers import CsvSource, HashedInput, Record
from credit_dw.ingest.reasons import Issue
from credit_dw.ingest.validation import RowOutcome, RowValidator, mask_personal_ids

BLOCK_LINES = 8_000  # bounds memory: a block costs about 9 KB a line once validated (peak RSS ~210 MiB)
KNOWN_LIMIT = 10_000  # outcomes kept per field between blocks (values that repeat: dates, codes)
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\r]")  # Python strips \x1c-\x1f, Rust does not
_DIGITS15 = r"\d{15}"


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    warned: int = 0
    hashes: list[pl.DataFrame] = field(default_factory=list)   # (key hash, source_row) of accepted rows
    slow_raw: dict[int, str] = field(default_factory=dict)    # raw text of accepted row-path records
    warned_rows: set[int] = field(default_factory=set)        # accepted rows loaded with a warning


def eligible(kind: FileKind) -> bool:
    """CSV files appended to their raw table (the snapshot merge keeps the stage-table path), whose
    spec names no row hooks (``derived``: computed per accepted row by the record path only)."""
    return kind.format == "csv" and kind.change_semantics != "daily_snapshot" and not kind.derived


def load(conn: psycopg.Connection, source: CsvSource, validator: RowValidator, kind: FileKind,
         columns: list[str], batch_id: int, feed: str, rel: str) -> Counts:
    """Validate and load every record of ``source`` into ``kind.raw_table``; returns the counts."""
    loader = _Loader(conn, source, validator, kind, columns, batch_id, feed, rel)
    for block in _blocks(source):
        loader.block(block)
    loader.reject_duplicates()
    return loader.counts


def _blocks(source: CsvSource) -> Any:
    """Bounded blocks of candidate records (record boundaries are final once a candidate is out)."""
    block: list[tuple[int, list[bytes], str | None]] = []
    for candidate in source.candidates():
        block.append(candidate)
        if len(block) >= BLOCK_LINES:
            yield block
            block = []
    if block:
        yield block


class _Loader:
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

    # --- one block ---------------------------------------------------------------------------

    def block(self, block: list[tuple[int, list[bytes], str | None]]) -> None:
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
        frame = frame.with_columns(pl.Series("_row", rows, dtype=pl.Int64), pl.int_range(len(rows)).alias("_i"))
        self.counts.read += frame.height
        self._validate_and_copy(frame, lines)

    def _validate_and_copy(self, frame: pl.DataFrame, lines: list[bytes]) -> None:
        outputs: dict[str, list[tuple[pl.Expr, pl.Expr | None]]] = {}   # column -> [(set flag, value)]
        lists: dict[str, list[pl.Expr]] = {}
        error_flags: list[pl.Expr] = []
        warn_flags: list[pl.Expr] = []
        issue_cols: list[tuple[int, str]] = []  # (field index, column holding the issue id)
        person_cols: list[str] = []
        for index, spec in enumerate(self.fields):
            name = canonical_header(spec.source)
            if name not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
            if _vectorisable(spec):
                frame = self._vector_field(frame, index, spec, name, outputs, error_flags, issue_cols)
            else:
                frame = self._mapped_field(frame, index, spec, name, outputs, lists, error_flags, warn_flags,
                                           issue_cols, person_cols)
        rejected = pl.any_horizontal(error_flags) if error_flags else pl.lit(False)
        warned = pl.any_horizontal(warn_flags) if warn_flags else pl.lit(False)
        frame = frame.with_columns(rejected.fill_null(False).alias("_rejected"),
                                   warned.fill_null(False).alias("_warned"))
        good = frame.filter(~pl.col("_rejected"))
        bad = frame.filter(pl.col("_rejected"))
        self._copy_accepted(good, outputs, lists)
        self._register_persons(good, person_cols)
        self._quarantine_plain(bad, issue_cols, lines)
        warned_rows = good.filter(pl.col("_warned"))["_row"].to_list()
        self.counts.warned += len(warned_rows)
        self.counts.warned_rows.update(warned_rows)

    # --- fields ------------------------------------------------------------------------------

    def _vector_field(self, frame: pl.DataFrame, index: int, spec: FieldSpec, name: str, outputs: dict,
                      error_flags: list, issue_cols: list) -> pl.DataFrame:
        """Free text / identifier without validator: trimmed (NFKC, upper) and ID-masked, vectorised."""
        value = pl.col(name).str.strip_chars()
        value = pl.when(value == "").then(None).otherwise(value)
        if spec.type == "identifier":
            value = value.str.normalize("NFKC").str.strip_chars().str.to_uppercase()
        tmp = f"_v{index}"
        frame = frame.with_columns(value.alias(tmp))
        suspects = frame.filter(pl.col(tmp).str.contains(_DIGITS15)).select("_i", tmp)
        if suspects.height:
            masked = pl.Series(tmp, [mask_personal_ids(v) for v in suspects[tmp]], dtype=pl.String)
            fix = pl.DataFrame({"_i": suspects["_i"], f"{tmp}_m": masked})
            frame = frame.join(fix, on="_i", how="left").with_columns(
                pl.coalesce(f"{tmp}_m", tmp).alias(tmp)).drop(f"{tmp}_m")
        if spec.column:
            outputs.setdefault(spec.column, []).append((pl.col(tmp).is_not_null(), pl.col(tmp)))
        if spec.required:
            flag = f"_e{index}"
            frame = frame.with_columns(pl.col(tmp).is_null().alias(flag))
            error_flags.append(pl.col(flag))
            issue_cols.append((index, flag))
        return frame

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
        frame = frame.join(known, on=deps, how="left", nulls_equal=True)
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
        so), and USCCs of the right shape whose GB 32100 check character matches and that cannot
        be a resident ID (not all digits). Everything else, every error message included, comes
        from ``RowValidator._field`` exactly as in the row path.
        """
        if spec.type == "person_id" and not spec.derive and not spec.column:
            return self._fast_persons(index, spec, name, keys)
        if spec.derive or not spec.column or not (
                spec.type == "date" or (spec.type == "identifier" and spec.validator == "uscc")):
            return None, keys
        text = pl.col(name).str.strip_chars()
        ascii_ = text.str.contains(r"^[\x21-\x7e]+$")
        if spec.type == "date":
            value = _date_expr(text)
            ok = ascii_ & value.is_not_null()
            if spec.not_after_delivery and self.validator.delivery_date is not None:
                ok = ok & (value <= pl.lit(self.validator.delivery_date))
            iso = value.dt.strftime("%Y-%m-%d")
            out = pl.when(iso.is_in(list(spec.open_ended))).then(None).otherwise(iso) if spec.open_ended else iso
        else:
            code = text.str.to_uppercase()
            ok = ascii_ & code.str.contains(_USCC_SHAPE) & ~code.str.contains(r"^\d{17}[\dX]$") & (
                _uscc_check_expr(code) == code.str.slice(17, 1))
            out = code
        prefix = f"_m{index}_"
        decided = keys.with_columns(ok.fill_null(False).alias("_ok"), out.alias("_out"))
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
        ok = (text.str.contains(r"^[0-9]{17}[0-9Xx]$") & (id_type == "01")
              & (_resident_check_expr(number) == number.str.slice(17, 1)))
        decided = keys.with_columns(ok.fill_null(False).alias("_ok"), number.alias("_n"))
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

    def _copy_accepted(self, good: pl.DataFrame, outputs: dict, lists: dict) -> None:
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
        self._hash_keys(out)
        buffer = io.BytesIO()
        out.write_csv(buffer, include_header=False)
        with self.conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(
                self.table, self.copy_cols)) as copy:
            copy.write(buffer.getvalue())
        self.counts.loaded += out.height

    def _hash_keys(self, out: pl.DataFrame) -> None:
        key = list(self.kind.natural_key)
        self.counts.hashes.append(out.select(
            pl.struct(key).hash(seed=0).alias("h"), pl.col("source_row").cast(pl.Int64).alias("row")))

    def _register_persons(self, good: pl.DataFrame, person_cols: list[str]) -> None:
        parts = ("hash", "number", "type", "masked")
        frames = [good.select([pl.col(prefix + p).alias(p) for p in parts]).drop_nulls("hash")
                  for prefix in person_cols]
        if not frames:
            return
        people = pl.concat(frames).unique("hash", keep="first")
        self._insert_persons({h: (h, n, t, m) for h, n, t, m in people.iter_rows()})

    def _insert_persons(self, people: dict[str, tuple]) -> None:
        if not people:
            return
        with self.conn.cursor() as cur:
            cur.execute("create temp table if not exists _persons (h text, n text, t text, m text) on commit drop")
            cur.execute("truncate _persons")
            with cur.copy("copy _persons from stdin") as copy:
                for p in people.values():
                    copy.write_row(p)
            cur.execute("insert into restricted.person_identity (id_hash, id_number, id_type, id_masked,"
                        " first_batch_id) select distinct on (h) h, n, t, m, %s from _persons order by h"
                        " on conflict (id_hash) do nothing", (self.batch_id,))

    def _quarantine_plain(self, bad: pl.DataFrame, issue_cols: list[tuple[int, str]], lines: list[bytes]) -> None:
        if bad.height == 0:
            return
        codec = self.source.codec
        rows = []
        for record in bad.select("_row", "_i", *[c for _, c in issue_cols]).iter_rows():
            row, i, *found = record
            issues: list[Issue] = []
            for (index, _column), value in zip(issue_cols, found, strict=True):
                if isinstance(value, bool):
                    if value:
                        spec = self.fields[index]
                        issues.append(Issue(reasons.MISSING_REQUIRED, spec.source,
                                            f"required field {spec.source} is empty; the department must fill it"))
                elif value is not None:
                    issues.extend(self._issues[value])
            out = RowOutcome(row, lines[i].decode(codec), issues=issues)
            rows.append(out)
        self._quarantine(rows)

    def _quarantine(self, outcomes: list[RowOutcome]) -> None:
        with self.conn.cursor().copy("copy quality.rejected_rows (batch_id, feed, source_file, source_row,"
                                     " reason_codes, message, raw_record) from stdin") as copy:
            for out in sorted(outcomes, key=lambda o: o.source_row):
                copy.write_row((self.batch_id, self.feed, self.rel, out.source_row, out.reason_codes,
                                mask_personal_ids(out.message(self.rel)), mask_personal_ids(out.raw)))
        self.counts.rejected += len(outcomes)

    # --- the row path for what is not plain --------------------------------------------------

    def _slow(self, candidates: list[tuple[int, list[bytes], str | None]]) -> None:
        """Record at a time, streamed into the same raw table while the records are validated."""
        accepted: list[RowOutcome] = []
        rejected: list[RowOutcome] = []
        people: dict[str, tuple] = {}
        known = set(self.columns)
        with self.conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(self.table, self.copy_cols)) as copy:
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
                    copy.write_row([row.get(c) for c in self.columns])
                    for p in out.persons:
                        people.setdefault(p[0], tuple(p))
                    self.counts.slow_raw[out.source_row] = out.raw
                    accepted.append(RowOutcome(out.source_row, "", {k: out.values.get(k) for k in
                                                                    self.kind.natural_key}, out.issues))
        if rejected:
            self._quarantine(rejected)
        if not accepted:
            return
        self._insert_persons(people)
        keys = pl.DataFrame({k: [_copy_text(o.values.get(k)) for o in accepted] for k in self.kind.natural_key},
                            schema={k: pl.String for k in self.kind.natural_key})
        self._hash_keys(keys.with_columns(pl.Series("source_row", [o.source_row for o in accepted])))
        self.counts.loaded += len(accepted)
        warned_rows = [o.source_row for o in accepted if o.warned]
        self.counts.warned += len(warned_rows)
        self.counts.warned_rows.update(warned_rows)

    # --- duplicates --------------------------------------------------------------------------

    def reject_duplicates(self) -> None:
        """2nd and later occurrences of a natural key in the file move from raw to the quarantine."""
        if not self.counts.hashes:
            return
        hashes = pl.concat(self.counts.hashes)
        self.counts.hashes.clear()
        candidates = hashes.filter(pl.col("h").is_duplicated())["row"].to_list()
        if not candidates:
            return
        key = sql.SQL(", ").join(map(sql.Identifier, self.kind.natural_key))
        shown = sql.SQL(" || ', ' || ").join(
            sql.SQL("coalesce({}::text, '')").format(sql.Identifier(k)) for k in self.kind.natural_key)
        dups = self.conn.execute(sql.SQL(
            "select source_row, first_row, key_text from (select source_row, {shown} as key_text,"
            "   row_number() over (partition by {key} order by source_row) as n,"
            "   first_value(source_row) over (partition by {key} order by source_row) as first_row"
            "   from {t} where batch_id = %s and source_row = any(%s)) r where n > 1 order by source_row"
        ).format(shown=shown, key=key, t=self.table), (self.batch_id, candidates)).fetchall()
        if not dups:
            return
        raw = self._raw_lines({row for row, _, _ in dups})
        names = ", ".join(self.kind.natural_key)
        self.conn.execute(sql.SQL("delete from {} where batch_id = %s and source_row = any(%s)").format(self.table),
                          (self.batch_id, [row for row, _, _ in dups]))
        with self.conn.cursor().copy("copy quality.rejected_rows (batch_id, feed, source_file, source_row,"
                                     " reason_codes, message, raw_record) from stdin") as copy:
            for row, first, key_text in dups:
                message = (f"{self.rel} row {row}: natural key ({names}) = ({key_text}) already appeared at row "
                           f"{first}; each key may occur once per file: the department must merge or correct "
                           "the records")
                copy.write_row((self.batch_id, self.feed, self.rel, row, [reasons.DUPLICATE_KEY],
                                mask_personal_ids(message), mask_personal_ids(raw[row])))
        self.counts.loaded -= len(dups)
        self.counts.rejected += len(dups)
        self.counts.warned -= sum(1 for row, _, _ in dups if row in self.counts.warned_rows)

    def _raw_lines(self, rows: set[int]) -> dict[int, str]:
        """The verbatim lines of these records: kept for the row path, read again for plain lines."""
        found = {r: self.counts.slow_raw[r] for r in rows if r in self.counts.slow_raw}
        wanted = rows - set(found)
        if wanted:
            source = HashedInput(Path(self.source.path))
            try:
                for line_no, line in enumerate(source.lines(), start=1):
                    if line_no in wanted:
                        found[line_no] = line.decode(self.source.codec, "backslashreplace").rstrip("\r\n")
                        if len(found) == len(rows):
                            break
            finally:
                source.close()
        return found


_USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


def _date_expr(text: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD``, ``YYYY/MM/DD`` (1-2 digit month/day) or ``YYYYMMDD`` → a date, else null."""
    dashed = text.str.extract_groups(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
    slashed = text.str.extract_groups(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
    compact = text.str.extract_groups(r"^(\d{4})(\d{2})(\d{2})$")
    parts = [pl.coalesce(dashed.struct.field(str(i)), slashed.struct.field(str(i)), compact.struct.field(str(i)))
             for i in (1, 2, 3)]
    iso = pl.concat_str(parts[0], pl.lit("-"), parts[1].str.zfill(2), pl.lit("-"), parts[2].str.zfill(2))
    return pl.when(parts[0] != "0000").then(iso.str.to_date("%Y-%m-%d", strict=False))  # Python has no year 0


def _uscc_check_expr(code: pl.Expr) -> pl.Expr:
    """GB 32100 check character of the first 17 symbols, vectorised (identifiers.uscc_check_char)."""
    values = {c: i for i, c in enumerate(ids.USCC_ALPHABET)}
    total = pl.sum_horizontal([code.str.slice(i, 1).replace_strict(values, default=None, return_dtype=pl.Int64)
                               * pow(3, i, 31) for i in range(17)])
    return ((31 - total % 31) % 31).replace_strict(dict(enumerate(ids.USCC_ALPHABET)), return_dtype=pl.String)


def _resident_check_expr(number: pl.Expr) -> pl.Expr:
    """GB 11643 check character of the first 17 digits, vectorised (identifiers.resident_id_check_char)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = pl.sum_horizontal([number.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(weights)])
    return (total % 11).replace_strict(dict(enumerate("10X98765432")), return_dtype=pl.String)


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
