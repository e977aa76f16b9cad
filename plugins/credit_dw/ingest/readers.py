"""Streaming readers: CSV (RFC 4180, UTF-8 or GB18030), JSON Lines and XLSX, in constant memory.

Each reader yields the header once (the source field names, canonicalised) and then one
``Record`` per source record with its ``source_row``: for CSV the physical line where the record
starts (header = line 1; a quoted field may span lines), for JSON Lines the line, for XLSX the
sheet row. A record the reader itself cannot make sense of (undecodable bytes, broken quoting,
wrong field count, invalid JSON) comes back with an ``issue`` and its raw text, so it is
quarantined verbatim; a file that cannot be read at all raises ``FileFailure``.

CSV records are found at the byte level before decoding: in UTF-8 and GB18030 the bytes of
``"`` and newline never occur inside a multi-byte character, so quote counting on bytes finds
record boundaries exactly, and each record is then decoded strictly on its own. A quote
count is only a candidate boundary: a record spanning several lines must also split into the
header's fields, otherwise the quote on its first line was a stray one, that line alone is
rejected and the following lines are read again as records of their own (a stray quote costs one
record, never the good rows after it). A legitimately long quoted field may span any number of
lines up to ``MAX_RECORD_BYTES``.

Files are opened without following symbolic links and read once, sequentially, through
``HashedInput``: the sha256 the loader records is the hash of exactly the bytes that were read,
so a file that changes while it is read is detected and refused rather than loaded half old, half
new. NUL bytes (which PostgreSQL text cannot hold) never reach the database: a header with one
fails the file, a record with one is rejected (``NUL_BYTE``) with the byte shown as ``\\x00``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from credit_dw.feeds import FileKind, canonical_header
from credit_dw.ingest import reasons
from credit_dw.ingest.encoding import detect_encoding
from credit_dw.ingest.reasons import FileFailure, Issue

MAX_RECORD_BYTES = 1 << 20  # a quoted field longer than this is taken as an unclosed quote
_NUL = "\x00"


@dataclass(frozen=True)
class Record:
    source_row: int
    values: dict[str, Any] | None  # canonical field name → value (str, or None when empty)
    raw: str                       # verbatim text (undecodable bytes shown as \xNN escapes)
    issue: Issue | None = None


class HashedInput:
    """A delivered file opened once, never through a symbolic link, hashed as it is read.

    ``sha256()`` is the hash of every byte handed to the reader (plus whatever the reader left
    unread), so it describes exactly the content that was loaded; ``changed()`` tells whether the
    path now names different content than what was opened (replaced, appended, truncated).
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise FileFailure(reasons.UNREADABLE_FILE, f"{path.name} cannot be opened ({exc.strerror}); "
                              "check that it is a regular file readable by the loader") from exc
        self.file = os.fdopen(fd, "rb", buffering=1 << 20)
        self.opened = os.fstat(fd)
        self._sha = hashlib.sha256()

    def lines(self) -> Iterator[bytes]:
        for line in self.file:
            self._sha.update(line)
            yield line

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes at most (hashed like ``lines``, which it may follow)."""
        data = self.file.read(size)
        self._sha.update(data)
        return data

    def sha256(self) -> str:
        for chunk in iter(lambda: self.file.read(1 << 20), b""):
            self._sha.update(chunk)
        return self._sha.hexdigest()

    def changed(self) -> bool:
        try:
            now = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return True
        before = self.opened
        return ((now.st_ino, now.st_size, now.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns)
                or os.fstat(self.file.fileno()).st_size != before.st_size)

    def close(self) -> None:
        self.file.close()


class SourceFile:
    """An opened delivery file: ``encoding``, ``header`` and ``records()``; use as a context manager."""

    encoding: str
    header: list[str]
    input: HashedInput

    def records(self) -> Iterator[Record]:  # pragma: no cover - interface
        raise NotImplementedError

    def sha256(self) -> str:
        """Hash of the bytes read (call after ``records()`` is exhausted)."""
        return self.input.sha256()

    def changed(self) -> bool:
        return self.input.changed()

    def close(self) -> None:
        self.input.close()

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: Path, kind: FileKind) -> SourceFile:
    if path.is_symlink():
        raise FileFailure(reasons.SYMLINK, f"{path.name} is a symbolic link; links are never followed: "
                          "deliver the file itself")
    if path.stat().st_size == 0:
        raise FileFailure(reasons.EMPTY_FILE, f"{path.name} is empty (0 bytes); ask the department to resend it")
    if kind.format == "csv":
        return CsvSource(path, detect_encoding(path, kind.encoding))
    if kind.format == "jsonl":
        return JsonlSource(path)
    return XlsxSource(path, kind.sheet)


def escape_nul(text: str) -> str:
    """NUL cannot be stored in PostgreSQL text: shown as ``\\x00`` like other undecodable bytes."""
    return text.replace(_NUL, "\\x00") if _NUL in text else text


def _nul_issue(values: dict[str, Any]) -> Issue | None:
    fields = [k for k, v in values.items() if isinstance(v, str) and _NUL in v]
    if not fields:
        return None
    return Issue(reasons.NUL_BYTE, fields[0], (
        f"field {', '.join(fields)} contains a NUL byte (0x00), which text cannot hold; "
        "ask the department to re-export the record without control characters"))


# --- CSV -----------------------------------------------------------------------------------------

class CsvSource(SourceFile):
    def __init__(self, path: Path, encoding: str):
        self.path = path
        self.encoding = encoding
        self._codec = "utf-8" if encoding == "utf-8-sig" else encoding
        self.input = HashedInput(path)
        self._chunks = _ByteRecords(self.input.lines())
        try:
            self.header = self._read_header()
        except BaseException:
            self.input.close()
            raise
        self._chunks.is_record = self._is_record

    def _is_record(self, lines: list[bytes]) -> bool:
        """Do these lines, joined by quotes, split into the header's fields? (else a stray quote)"""
        try:
            return len(_parse_csv(b"".join(lines).decode(self._codec))) == len(self.header)
        except UnicodeDecodeError:
            return True  # one record with bad bytes: ENCODING, not a quoting problem
        except csv.Error:
            return False

    def _read_header(self) -> list[str]:
        for line_no, lines, problem in self._chunks:
            data = b"".join(lines)
            if line_no == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
            if not data.strip():
                continue
            if problem:
                raise FileFailure(reasons.NO_HEADER, f"{self.path.name} line {line_no}: header has {problem}; "
                                  "the file must start with the field-code header")
            if b"\x00" in data:
                raise FileFailure(reasons.NO_HEADER, f"{self.path.name} line {line_no}: header contains a NUL "
                                  "byte (0x00); ask the department to re-export the file as UTF-8 or GB18030 CSV")
            try:
                text = data.decode(self._codec)
                fields = _parse_csv(text)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise FileFailure(
                    reasons.NO_HEADER,
                    f"{self.path.name} line {line_no}: header is not readable as {self.encoding} CSV "
                    f"({type(exc).__name__}); the file must start with the field-code header",
                ) from exc
            names = [canonical_header(f) for f in fields]
            if not any(names) or len(set(names)) != len(names) or "" in names:
                # never echo the line: a header-less file starts with a data row (names, ID numbers)
                raise FileFailure(
                    reasons.NO_HEADER,
                    f"{self.path.name} line {line_no}: first line is not a header of distinct field names "
                    f"({len(names)} fields, {len(names) - len(set(names))} repeated, "
                    f"{names.count('')} empty); the file must start with the field-code header",
                )
            return names
        raise FileFailure(reasons.EMPTY_FILE, f"{self.path.name} has no header and no data (blank lines only)")

    @property
    def codec(self) -> str:
        return self._codec

    def candidates(self) -> _ByteRecords:
        """The candidate records (first line number, lines, problem) not read yet (see ``records``)."""
        return self._chunks

    def blocks(self, size: int, most: int) -> Iterator[tuple]:
        """The rest of the file in bounded blocks, for the columnar loader.

        ``("text", first_line_no, data, text)``: about ``size`` bytes of whole lines (``data``),
        decoded (``text``), holding no quote and no control character but tab, CR and LF, so
        every line is one record candidate and (but for a line with a CR inside, which the caller
        must hand to the row path) splitting on commas is parsing it.
        ``("records", candidates)``: at most ``most`` candidates exactly as ``candidates()``
        yields them, for the blocks that are not plain (quotes, control characters, undecodable
        bytes) until the record boundaries are back at the end of a block.
        """
        chunks = self._chunks
        feed = _LineFeed(self.input, size, chunks.consumed)
        chunks.follow(feed)
        pending = chunks.pending
        while True:
            if not feed.lines and not pending:
                block = feed.block()
                if block is None:
                    return
                first, data = block
                if _plain_bytes(data):
                    try:
                        text = data.decode(self._codec)
                    except UnicodeDecodeError:
                        pass
                    else:
                        yield "text", first, data, text
                        continue
                feed.load(first, data)
            batch = []
            candidates = iter(chunks)
            while feed.lines or pending:
                candidate = next(candidates, None)
                if candidate is None:
                    break
                batch.append(candidate)
                if len(batch) >= most:
                    yield "records", batch
                    batch = []
            if batch:
                yield "records", batch

    def records(self) -> Iterator[Record]:
        for line_no, lines, problem in self._chunks:
            yield from self.to_records(line_no, lines, problem)

    def to_records(self, line_no: int, lines: list[bytes], problem: str | None) -> Iterator[Record]:
        """The record a candidate is (none for a blank line); a stray quote pushes lines back."""
        width = len(self.header)
        data = b"".join(lines) if len(lines) > 1 else lines[0]
        if not data.strip():
            return
        try:
            text = data.decode(self._codec)
        except UnicodeDecodeError as exc:
            yield Record(line_no, None, escape_nul(_escaped(data, self._codec)), Issue(
                reasons.ENCODING, None,
                f"bytes at offset {exc.start} of the record are not valid {self.encoding} "
                f"({data[exc.start:exc.start + 4]!r}); the rest of the file is {self.encoding}: ask the "
                "department to re-export this record in the same encoding"))
            return
        raw = escape_nul(text.rstrip("\r\n"))
        if problem:
            yield Record(line_no, None, raw, Issue(
                reasons.MALFORMED_ROW, None,
                f"{problem}; fix the quoting (RFC 4180: a quote inside a field is doubled)"))
            return
        try:
            fields = _parse_csv(text)
        except csv.Error as exc:
            fields, error = None, f"CSV quoting is broken ({exc}); RFC 4180 quoting expected"
        else:
            error = (None if len(fields) == width else
                     f"record has {len(fields)} fields but the header has {width}; "
                     "check for an unquoted delimiter or a missing field")
        if error:
            yield Record(line_no, None, raw, Issue(reasons.MALFORMED_ROW, None, error))
            return
        values = dict(zip(self.header, fields, strict=True))
        nul = _nul_issue(values)
        yield Record(line_no, None if nul else values, raw, nul)


def _parse_csv(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if len(rows) != 1:
        raise csv.Error(f"expected one record, found {len(rows)}")
    return rows[0]


def _escaped(data: bytes, codec: str) -> str:
    return data.decode(codec, errors="backslashreplace").rstrip("\r\n")


class _ByteRecords:
    """(first physical line number, the record's lines, problem or None), constant memory.

    A candidate record ends at a line end with an even number of quotes so far. A quote never
    closed within ``MAX_RECORD_BYTES`` (or before the end of the file), or lines joined by a quote
    that do not split into the header's fields (``is_record``), are reported on the first line
    only, and the following lines are handed out again at once, so one stray quote costs one
    record and every later candidate is formed as if that line had been alone.
    """

    def __init__(self, lines: Iterator[bytes]):
        self.consumed = 0  # lines taken from ``lines`` so far
        self._source: Iterator[tuple[int, bytes]] = self._numbered(lines)
        self._pending: deque[tuple[int, bytes]] = deque()
        self.is_record: Callable[[list[bytes]], bool] | None = None  # set once the header is known

    def _numbered(self, lines: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
        for line in lines:
            self.consumed += 1
            yield self.consumed, line

    @property
    def pending(self) -> deque[tuple[int, bytes]]:
        """Lines handed back after a stray quote, read again before any new line."""
        return self._pending

    def follow(self, lines: Iterator[tuple[int, bytes]]) -> None:
        """Take the following (line number, line) pairs from ``lines`` (a ``_LineFeed``)."""
        self._source = lines

    def _next_line(self) -> tuple[int, bytes] | None:
        return self._pending.popleft() if self._pending else next(self._source, None)

    def __iter__(self) -> Iterator[tuple[int, list[bytes], str | None]]:
        while (first := self._next_line()) is not None:
            lines = [first]
            quotes = first[1].count(b'"')
            size = len(first[1])
            while quotes % 2 and size <= MAX_RECORD_BYTES:
                more = self._next_line()
                if more is None:
                    break
                lines.append(more)
                quotes += more[1].count(b'"')
                size += len(more[1])
            if quotes % 2:
                self._pending.extendleft(reversed(lines[1:]))
                yield first[0], [first[1]], "a quoted field is never closed"
                continue
            record = [line for _, line in lines]
            if len(record) > 1 and self.is_record is not None and not self.is_record(record):
                # the quote that joined these lines was a stray one: only its own line is bad
                self._pending.extendleft(reversed(lines[1:]))
                yield first[0], [first[1]], ("a stray quote on this line opens a field that never closes "
                                             "properly; the following lines were read as records of their own")
                continue
            yield first[0], record, None


_ORDINARY = bytes(b for b in range(256) if (b >= 0x20 or b == 0x09) and b not in (0x22, 0x7F))  # no quote, no control


def _plain_bytes(data: bytes) -> bool:
    """No quote and no control character but tab, CR and LF (C-speed scans, no regex); a CR that
    does not end its line is the caller's to find (per line)."""
    return b'"' not in data and not data.translate(None, _ORDINARY).translate(None, b"\r\n")


class _LineFeed:
    """The rest of a file read in blocks of whole lines; as an iterator, (line number, line) pairs.

    ``block()`` hands a whole block to the caller (the columnar fast path); ``load()`` puts one
    back as lines, which the iterator hands out (to ``_ByteRecords``) before reading more blocks.
    """

    def __init__(self, source: HashedInput, size: int, consumed: int):
        self.input = source
        self.size = max(size, 1)
        self.next_no = consumed + 1
        self.carry = b""
        self.lines: deque[tuple[int, bytes]] = deque()

    def block(self) -> tuple[int, bytes] | None:
        """(first line number, bytes up to and including the last line end; all at the end of file)."""
        parts = [self.carry]
        while True:
            chunk = self.input.read(self.size)
            if not chunk:
                data, self.carry = b"".join(parts), b""
                break
            parts.append(chunk)
            if b"\n" in chunk:
                data = b"".join(parts)
                cut = data.rindex(b"\n") + 1
                data, self.carry = data[:cut], data[cut:]
                break
        if not data:
            return None
        first = self.next_no
        self.next_no += data.count(b"\n") + (not data.endswith(b"\n"))
        return first, data

    def load(self, first: int, data: bytes) -> None:
        lines = data.split(b"\n")
        last = lines.pop()
        self.lines.extend((first + i, line + b"\n") for i, line in enumerate(lines))
        if last:
            self.lines.append((first + len(lines), last))

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return self

    def __next__(self) -> tuple[int, bytes]:
        if not self.lines:
            block = self.block()
            if block is None:
                raise StopIteration
            self.load(*block)
        return self.lines.popleft()


# --- JSON Lines ----------------------------------------------------------------------------------

class JsonlSource(SourceFile):
    """One JSON object per line, UTF-8; the header is the key set of the first object."""

    encoding = "utf-8"

    def __init__(self, path: Path):
        self.path = path
        self.input = HashedInput(path)
        self._lines = enumerate(self.input.lines(), start=1)
        self._head: list[tuple[int, bytes]] = []   # lines read to find the header, replayed by records()
        try:
            self.header = self._first_keys()
        except BaseException:
            self.input.close()
            raise

    def _first_keys(self) -> list[str]:
        for line_no, data in self._lines:
            self._head.append((line_no, data))
            if not data.strip():
                continue
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                if line_no >= 100:
                    break
                continue
            if isinstance(obj, dict):
                names = [canonical_header(k) for k in obj]
                if any(_NUL in n for n in names):
                    raise FileFailure(reasons.NO_HEADER, f"{self.path.name} line {line_no}: a field name "
                                      "contains a NUL character (\\u0000); ask the department to re-export")
                return names
        raise FileFailure(reasons.NO_HEADER,
                          f"{self.path.name}: no JSON object found in the first lines; expected JSON Lines")

    def records(self) -> Iterator[Record]:
        for line_no, data in itertools.chain(self._head, self._lines):
            if not data.strip():
                continue
            try:
                text = data.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError:
                yield Record(line_no, None, escape_nul(_escaped(data, "utf-8")), Issue(
                    reasons.ENCODING, None, "line is not valid UTF-8; JSON Lines must be UTF-8"))
                continue
            raw = escape_nul(text.rstrip("\r\n"))
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(line_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(obj, dict):
                yield Record(line_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None, "line is JSON but not an object"))
                continue
            values = {canonical_header(k): _json_text(v) for k, v in obj.items()}
            nul = _nul_issue(values) or _nul_issue({k: k for k in values})
            yield Record(line_no, None if nul else values, raw, nul)


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    return json.dumps(value, ensure_ascii=False)


# --- XLSX ----------------------------------------------------------------------------------------

class XlsxSource(SourceFile):
    """First (or configured) sheet, streamed with openpyxl read-only mode; header = first non-empty row."""

    encoding = "xlsx"

    def __init__(self, path: Path, sheet: int = 0):
        from credit_dw.ingest.workbook import open_workbook  # imported here: only XLSX feeds pay for openpyxl

        self.path = path
        self.input = HashedInput(path)
        try:
            self._wb = open_workbook(self.input.file)
            self._ws = self._wb.worksheets[sheet]
            self._rows = self._guarded(enumerate(self._ws.iter_rows(values_only=True), start=1))
            self.header = self._read_header()
        except FileFailure:
            self.input.close()
            raise
        except Exception as exc:  # zipfile, XML parsers and openpyxl raise a variety of types
            self.input.close()
            raise FileFailure(reasons.UNREADABLE_FILE,
                              f"{path.name} is not a readable XLSX workbook ({type(exc).__name__}); "
                              "ask the department to resend it") from exc

    def sha256(self) -> str:
        """openpyxl reads the archive out of order: hash the opened file from its start."""
        self.input.file.seek(0)
        return self.input.sha256()

    def _guarded(self, rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
        """Turns a mid-stream failure (truncated archive, broken XML) into a whole-file failure."""
        try:
            yield from rows
        except Exception as exc:  # openpyxl/zipfile/lxml raise a variety of types here
            raise FileFailure(reasons.UNREADABLE_FILE,
                              f"{self.path.name} broke off while reading ({type(exc).__name__}); "
                              "the workbook is truncated or damaged, ask the department to resend it") from exc

    def _read_header(self) -> list[str]:
        for row_no, row in self._rows:
            cells = [_cell_text(v) for v in row]
            if not any(cells):
                continue
            while cells and not cells[-1]:
                cells.pop()
            names = [canonical_header(c or "") for c in cells]
            if "" in names or len(set(names)) != len(names):
                raise FileFailure(reasons.NO_HEADER,
                                  f"{self.path.name} row {row_no}: first non-empty row is not a header of "
                                  f"distinct column names ({len(names)} columns, {names.count('')} empty, "
                                  f"{len(names) - len(set(names))} repeated); the sheet must start with the header")
            return names
        raise FileFailure(reasons.EMPTY_FILE, f"{self.path.name}: the sheet has no rows")

    def records(self) -> Iterator[Record]:
        width = len(self.header)
        for row_no, row in self._rows:
            cells = [_cell_text(v) for v in row]
            if not any(cells):
                continue
            extra = [c for c in cells[width:] if c]
            cells = (cells + [None] * width)[:width]
            values = dict(zip(self.header, cells, strict=True))
            raw = escape_nul(json.dumps(values if not extra else {**values, "_extra": extra}, ensure_ascii=False))
            if extra:
                yield Record(row_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None,
                    f"row has {len(extra)} filled cell(s) right of the last header column; "
                    "remove them or add a header"))
                continue
            nul = _nul_issue(values)
            yield Record(row_no, None if nul else values, raw, nul)

    def close(self) -> None:
        self._wb.close()
        self.input.close()


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    text = str(value)
    return text if text.strip() else None


def _number_text(value: int | float) -> str:
    """Shortest exact text of a number: 12345.6 stays '12345.6', never 12345.600000000001."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
