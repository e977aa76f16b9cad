"""Streaming writers for the delivery formats: bytes go to disk in chunks, memory stays flat.

A field value containing ``BAD_MARK`` is replaced by raw bytes that are invalid in both UTF-8
and GB18030 *after* encoding, which is the only way to produce an undecodable line through a
text writer. 0x80 and 0xFF are not lead bytes in GB18030 and never valid in UTF-8, and they
cannot swallow a following delimiter, quote or line break.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

BAD_MARK = "~~UNDECODABLE~~"
BAD_BYTES = b"\x80\xff"
FIXED_TIME = datetime(2026, 1, 1)  # XLSX timestamps: fixed so equal seeds give equal bytes
_CHUNK = 1 << 20


class _EncodedLines:
    def __init__(self, path: Path, encoding: str, bom: bool) -> None:
        self._file = path.open("wb")
        self._encoding = encoding
        self._buffer = io.StringIO(newline="")
        if bom:
            self._file.write(b"\xef\xbb\xbf")

    def _maybe_flush(self, force: bool = False) -> None:
        if force or self._buffer.tell() >= _CHUNK:
            data = self._buffer.getvalue().encode(self._encoding)
            self._file.write(data.replace(BAD_MARK.encode("ascii"), BAD_BYTES))
            self._buffer.seek(0)
            self._buffer.truncate()

    def close(self) -> None:
        self._maybe_flush(force=True)
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CsvWriter(_EncodedLines):
    """RFC 4180 CSV (CRLF, minimal quoting) in ``encoding`` (``utf-8`` or ``gb18030``)."""

    def __init__(self, path: Path, header: list[str], encoding: str, bom: bool = False) -> None:
        super().__init__(path, encoding, bom)
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self._csv.writerow(header)

    def write(self, row: list[str]) -> None:
        self._csv.writerow(row)
        self._maybe_flush()


class JsonLinesWriter(_EncodedLines):
    """One JSON object per line, UTF-8, no BOM, LF line ends."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "utf-8", bom=False)

    def write(self, record: dict[str, Any]) -> None:
        self._buffer.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._buffer.write("\n")
        self._maybe_flush()


class FixedTimeZip(zipfile.ZipFile):
    """Zip archive whose members all carry ``FIXED_TIME``: openpyxl stamps the wall clock."""

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[override]
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # type: ignore[override]
        with open(filename, "rb") as src, self.open(self._info(arcname or str(filename)), "w") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)


class XlsxWriter:
    """Single-sheet workbook in openpyxl write-only mode (rows stream to a temp file)."""

    def __init__(self, path: Path, sheet_title: str, header: list[str]) -> None:
        from openpyxl import Workbook

        self._path = path
        self._wb = Workbook(write_only=True)
        self._wb.properties.creator = "credit-dw generate"
        self._wb.properties.created = FIXED_TIME
        self._wb.properties.modified = FIXED_TIME
        self._ws = self._wb.create_sheet(sheet_title)
        self._ws.append(header)

    def write(self, row: list[Any]) -> None:
        self._ws.append(row)

    def close(self) -> None:
        # Not Workbook.save(): save_workbook() resets `modified` to now().
        from openpyxl.writer.excel import ExcelWriter

        with FixedTimeZip(self._path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            ExcelWriter(self._wb, archive).save()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
