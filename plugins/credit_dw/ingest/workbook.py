"""An XLSX workbook opened to stream every row of its sheets, whatever size the sheets declare.

Why we depart from openpyxl's ``load_workbook(read_only=True)`` here:

- it trusts each sheet's declared ``<dimension>`` and stops reading there, so a workbook whose
  writer declared ``A1`` or ``A1:B10`` (openpyxl's documentation names such writers) loses every
  row and column past it, silently; for us that is rows lost without a rejection;
- where the declaration is missing (streaming writers, openpyxl's own write-only mode among them)
  it parses the whole sheet once at open only to size it: 69 s of a 1.4M-row sheet's (1.2 GB of
  XML) load before the first row is read.

So the sheets here skip that sizing: every row the sheet holds is read, once, and the loader
judges each one (cells right of the header are ``MALFORMED_ROW``). Everything else is openpyxl's
own reader; the subclass hooks are those of the pinned version (``requirements/constraints.txt``),
and ``tests/unit/test_readers.py`` and ``tests/integration/test_ingest_hostile.py`` pin the behaviour.
"""

from __future__ import annotations

from typing import IO

from openpyxl.reader.excel import ExcelReader
from openpyxl.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet


class _UnsizedSheet(ReadOnlyWorksheet):
    def _get_size(self) -> None:
        """Keep the class defaults (first row and column 1, no last): read to the sheet's end."""


class _UnsizedReader(ExcelReader):
    def read_worksheets(self) -> None:
        """Read-only work sheets only (chart sheets hold no rows), none of them sized at open."""
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                ws = _UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)


def open_workbook(file: IO[bytes]) -> Workbook:
    """The workbook in ``file``, read-only with cached values (``data_only``), sheets unsized."""
    reader = _UnsizedReader(file, read_only=True, data_only=True)
    reader.read()
    return reader.wb
