"""Streaming readers: CSV (RFC 4180, UTF-8 or GB18030), JSON Lines and XLSX, in constant memory.

Each reader yields the header once (the source field names, canonicalised) and then one
``Record`` per source record with its ``source_row``: for CSV the physical line where the record
starts (header = line 1; a quoted field may span lines), for JSON Lines the line, for XLSX the
sheet row. A record the reader itself cannot make sense of (undecodable bytes, broken quoting,
wrong field count, invalid JSON) comes back with an ``issue`` and its raw text, so it is
quarantined verbatim; a file that cannot be read at all raises ``FileFailure``.

CSV records are found at the byte level before decoding: in UTF-8 and GB18030 the bytes of
``"`` and newline never occur inside a multi-byte character, so quote counting on bytes finds
record boundaries exactly, and each record is then decoded strictly on its own.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from credit_dw.feeds import FileKind, canonical_header
from credit_dw.ingest import reasons
from credit_dw.ingest.encoding import detect_encoding
from credit_dw.ingest.reasons import FileFailure, Issue

MAX_RECORD_LINES = 200  # a quoted field spanning more lines than this is taken as an unclosed quote


@dataclass(frozen=True)
class Record:
    source_row: int
    values: dict[str, Any] | None  # canonical field name → value (str, or None when empty)
    raw: str                       # verbatim text (undecodable bytes shown as \xNN escapes)
    issue: Issue | None = None


class SourceFile:
    """An opened delivery file: ``encoding``, ``header`` and ``records()``; use as a context manager."""

    encoding: str
    header: list[str]

    def records(self) -> Iterator[Record]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: Path, kind: FileKind) -> SourceFile:
    if path.stat().st_size == 0:
        raise FileFailure(reasons.EMPTY_FILE, f"{path.name} is empty (0 bytes); ask the department to resend it")
    if kind.format == "csv":
        return CsvSource(path, detect_encoding(path, kind.encoding))
    if kind.format == "jsonl":
        return JsonlSource(path)
    return XlsxSource(path, kind.sheet)


# --- CSV -----------------------------------------------------------------------------------------

class CsvSource(SourceFile):
    def __init__(self, path: Path, encoding: str):
        self.path = path
        self.encoding = encoding
        self._codec = "utf-8" if encoding == "utf-8-sig" else encoding
        self._fh = path.open("rb")
        self._chunks = _byte_records(self._fh)
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        for line_no, data, problem in self._chunks:
            if line_no == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
            if not data.strip():
                continue
            if problem:
                raise FileFailure(reasons.NO_HEADER, f"{self.path.name} line {line_no}: header has {problem}")
            try:
                text = data.decode(self._codec)
                fields = _parse_csv(text)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise FileFailure(
                    reasons.NO_HEADER,
                    f"{self.path.name} line {line_no}: header is not readable as {self.encoding} CSV ({exc})",
                ) from exc
            names = [canonical_header(f) for f in fields]
            if not any(names) or len(set(names)) != len(names) or "" in names:
                raise FileFailure(
                    reasons.NO_HEADER,
                    f"{self.path.name} line {line_no}: first line is not a header of distinct field names "
                    f"({text.strip()[:120]!r}); the file must start with the field-code header",
                )
            return names
        raise FileFailure(reasons.EMPTY_FILE, f"{self.path.name} has no header and no data (blank lines only)")

    def records(self) -> Iterator[Record]:
        width = len(self.header)
        for line_no, data, problem in self._chunks:
            if not data.strip():
                continue
            try:
                text = data.decode(self._codec)
            except UnicodeDecodeError as exc:
                yield Record(line_no, None, _escaped(data, self._codec), Issue(
                    reasons.ENCODING, None,
                    f"bytes at offset {exc.start} of the record are not valid {self.encoding} "
                    f"({data[exc.start:exc.start + 4]!r}); the rest of the file is {self.encoding}: ask the "
                    "department to re-export this record in the same encoding"))
                continue
            raw = text.rstrip("\r\n")
            if problem:
                yield Record(line_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None,
                    f"{problem}; fix the quoting (RFC 4180: a quote inside a field is doubled)"))
                continue
            try:
                fields = _parse_csv(text)
            except csv.Error as exc:
                yield Record(line_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None, f"CSV quoting is broken ({exc}); RFC 4180 quoting expected"))
                continue
            if len(fields) != width:
                yield Record(line_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None,
                    f"record has {len(fields)} fields but the header has {width}; "
                    "check for an unquoted delimiter or a missing field"))
                continue
            yield Record(line_no, dict(zip(self.header, fields, strict=True)), raw)

    def close(self) -> None:
        self._fh.close()


def _parse_csv(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if len(rows) != 1:
        raise csv.Error(f"expected one record, found {len(rows)}")
    return rows[0]


def _escaped(data: bytes, codec: str) -> str:
    return data.decode(codec, errors="backslashreplace").rstrip("\r\n")


def _byte_records(fh: io.BufferedReader) -> Iterator[tuple[int, bytes, str | None]]:
    """(first physical line number, record bytes, problem or None), constant memory.

    A record ends at a line end with an even number of quotes so far. An unclosed quote is
    reported on its first line only, and the following lines are read again as records of their
    own, so one bad quote costs one record, not the rest of the file.
    """
    source = enumerate(fh, start=1)
    pending: deque[tuple[int, bytes]] = deque()

    def next_line() -> tuple[int, bytes] | None:
        return pending.popleft() if pending else next(source, None)

    while (first := next_line()) is not None:
        lines = [first]
        quotes = first[1].count(b'"')
        while quotes % 2 and len(lines) <= MAX_RECORD_LINES:
            more = next_line()
            if more is None:
                break
            lines.append(more)
            quotes += more[1].count(b'"')
        if quotes % 2:
            pending.extendleft(reversed(lines[1:]))
            yield first[0], first[1], "a quoted field is never closed"
            continue
        yield first[0], b"".join(line for _, line in lines), None


# --- JSON Lines ----------------------------------------------------------------------------------

class JsonlSource(SourceFile):
    """One JSON object per line, UTF-8; the header is the key set of the first object."""

    encoding = "utf-8"

    def __init__(self, path: Path):
        self.path = path
        self._fh = path.open("rb")
        self.header = self._first_keys()

    def _first_keys(self) -> list[str]:
        for line_no, data in enumerate(self._fh, start=1):
            if not data.strip():
                continue
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                if line_no >= 100:
                    break
                continue
            if isinstance(obj, dict):
                self._fh.seek(0)
                return [canonical_header(k) for k in obj]
        raise FileFailure(reasons.NO_HEADER,
                          f"{self.path.name}: no JSON object found in the first lines; expected JSON Lines")

    def records(self) -> Iterator[Record]:
        for line_no, data in enumerate(self._fh, start=1):
            if not data.strip():
                continue
            try:
                text = data.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError:
                yield Record(line_no, None, _escaped(data, "utf-8"), Issue(
                    reasons.ENCODING, None, "line is not valid UTF-8; JSON Lines must be UTF-8"))
                continue
            raw = text.rstrip("\r\n")
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
            yield Record(line_no, {canonical_header(k): _json_text(v) for k, v in obj.items()}, raw)

    def close(self) -> None:
        self._fh.close()


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
        import openpyxl  # imported here: only XLSX feeds pay for it
        from openpyxl.utils.exceptions import InvalidFileException

        self.path = path
        try:
            self._wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            self._ws = self._wb.worksheets[sheet]
        except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, OSError, ValueError) as exc:
            raise FileFailure(reasons.UNREADABLE_FILE,
                              f"{path.name} is not a readable XLSX workbook ({type(exc).__name__}: {exc}); "
                              "ask the department to resend it") from exc
        self._rows = self._guarded(enumerate(self._ws.iter_rows(values_only=True), start=1))
        self.header = self._read_header()

    def _guarded(self, rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
        """Turns a mid-stream failure (truncated archive, broken XML) into a whole-file failure."""
        try:
            yield from rows
        except Exception as exc:  # openpyxl/zipfile/lxml raise a variety of types here
            raise FileFailure(reasons.UNREADABLE_FILE,
                              f"{self.path.name} broke off while reading ({type(exc).__name__}: {exc}); "
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
                                  f"distinct column names ({names})")
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
            raw = json.dumps(values if not extra else {**values, "_extra": extra}, ensure_ascii=False)
            if extra:
                yield Record(row_no, None, raw, Issue(
                    reasons.MALFORMED_ROW, None,
                    f"row has {len(extra)} filled cell(s) right of the last header column; "
                    "remove them or add a header"))
                continue
            yield Record(row_no, values, raw)

    def close(self) -> None:
        self._wb.close()


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
