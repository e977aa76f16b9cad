"""Readers: encoding detection, RFC 4180 records with their starting line, JSON Lines, XLSX streaming."""

from __future__ import annotations

import codecs
import re
from datetime import datetime

import openpyxl
import pytest

from conftest import edit_xlsx_sheet
from credit_dw.feeds import load_spec
from credit_dw.ingest import reasons
from credit_dw.ingest.encoding import detect_sample
from credit_dw.ingest.readers import CsvSource, JsonlSource, XlsxSource, open_source
from credit_dw.ingest.reasons import FileFailure

CANDIDATES = ("utf-8", "utf-8-sig", "gb18030")
TEXT = "CF_WSH,CF_XDR_MC\n宁罚1号,南京某某科技有限公司\n宁罚2号,张三\n"


@pytest.mark.parametrize(("data", "expected"), [
    (TEXT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("gb18030"), "gb18030"),
    (b"A,B\n1,2\n", "utf-8"),  # pure ASCII
    (TEXT.encode("utf-8") + "宁罚3号,李四\n".encode("gb18030"), "utf-8"),  # one bad record stays a bad record
])
def test_detect_encoding(data, expected):
    assert detect_sample(data, CANDIDATES) == expected


def test_fixed_encoding_is_not_detected():
    assert detect_sample(TEXT.encode("utf-8"), ("gb18030",)) == "gb18030"


def _csv(tmp_path, data: bytes, encoding="utf-8") -> CsvSource:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    return CsvSource(path, encoding)


def test_embedded_newline_keeps_record_start_line(tmp_path):
    data = b'A,B\n1,"two\nlines"\n\n3,"a ""quoted"" word"\r\n4,x\n'
    with _csv(tmp_path, data) as src:
        assert src.header == ["A", "B"]
        recs = list(src.records())
    assert [(r.source_row, r.values) for r in recs] == [
        (2, {"A": "1", "B": "two\nlines"}),
        (5, {"A": "3", "B": 'a "quoted" word'}),
        (6, {"A": "4", "B": "x"}),
    ]


def test_unclosed_quote_costs_one_record(tmp_path):
    data = b'A,B\n1,"never closed\n2,ok\n3,ok\n'
    with _csv(tmp_path, data) as src:
        recs = list(src.records())
    assert recs[0].issue.code == reasons.MALFORMED_ROW and recs[0].source_row == 2
    assert [(r.source_row, r.values["A"]) for r in recs[1:]] == [(3, "2"), (4, "3")]


def test_field_count_mismatch_is_malformed(tmp_path):
    with _csv(tmp_path, b"A,B\n1,2,3\n") as src:
        (rec,) = src.records()
    assert rec.issue.code == reasons.MALFORMED_ROW and rec.raw == "1,2,3"


def test_undecodable_record_is_escaped_not_mangled(tmp_path):
    bad = "3,李四".encode("gb18030")
    with _csv(tmp_path, b"A,B\n1,x\n" + bad + b"\n4,y\n") as src:
        recs = list(src.records())
    assert [r.source_row for r in recs] == [2, 3, 4]
    assert recs[1].issue.code == reasons.ENCODING
    assert recs[1].raw == bad.decode("utf-8", errors="backslashreplace")
    assert "\\x" in recs[1].raw
    assert recs[2].values == {"A": "4", "B": "y"}


def test_gb18030_file_decodes(tmp_path):
    with _csv(tmp_path, TEXT.encode("gb18030"), "gb18030") as src:
        assert [r.values["CF_XDR_MC"] for r in src.records()] == ["南京某某科技有限公司", "张三"]


def test_bom_is_not_part_of_the_header(tmp_path):
    with _csv(tmp_path, codecs.BOM_UTF8 + b"A,B\n1,2\n", "utf-8-sig") as src:
        assert src.header == ["A", "B"]


def test_header_names_are_canonical(tmp_path):
    with _csv(tmp_path, " 欠缴金额（元） ,B\n1,2\n".encode()) as src:
        assert src.header == ["欠缴金额(元)", "B"]


def test_empty_file_fails(tmp_path):
    path = tmp_path / "penalty_x.csv"
    path.write_bytes(b"")
    with pytest.raises(FileFailure) as err:
        open_source(path, load_spec("penalty").files[0])
    assert err.value.code == reasons.EMPTY_FILE and "penalty_x.csv" in err.value.message


def test_jsonl(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"a": "x", "n": 12, "f": 1.5, "z": null}\n\nnot json\n[1]\n{"a": "y"}\n')
    with JsonlSource(path) as src:
        assert src.header == ["a", "n", "f", "z"]
        recs = list(src.records())
    assert recs[0].values == {"a": "x", "n": "12", "f": "1.5", "z": None}
    assert [r.source_row for r in recs] == [1, 3, 4, 5]
    assert recs[1].issue.code == recs[2].issue.code == reasons.MALFORMED_ROW


def _workbook(path, rows):
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("欠缴信息")
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_xlsx_rows_types_and_sheet_row_numbers(tmp_path):
    path = tmp_path / "s.xlsx"
    _workbook(path, [["名称", "金额", "日期"], ["甲", 359957.39, datetime(2025, 5, 24)], [None, None, None],
                     ["乙", 12, "2026-01-02"]])
    with XlsxSource(path) as src:
        assert src.header == ["名称", "金额", "日期"]
        recs = list(src.records())
    assert [(r.source_row, r.values) for r in recs] == [
        (2, {"名称": "甲", "金额": "359957.39", "日期": "2025-05-24"}),
        (4, {"名称": "乙", "金额": "12", "日期": "2026-01-02"}),
    ]


def test_xlsx_streams_in_read_only_mode(tmp_path):
    path = tmp_path / "s.xlsx"
    _workbook(path, [["a"], ["1"]])
    with XlsxSource(path) as src:
        assert src._wb.read_only  # openpyxl's streaming reader, not the in-memory one
        assert next(iter(src.records())).values == {"a": "1"}


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_xlsx_fails_the_file(tmp_path, cut):
    path = tmp_path / "s.xlsx"
    _workbook(path, [["a", "b"], *[[str(i), "x" * 50] for i in range(2000)]])
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(FileFailure) as err, XlsxSource(path) as src:
        list(src.records())
    assert err.value.code == reasons.UNREADABLE_FILE and "s.xlsx" in err.value.message


def _redeclare_size(path, dimension: str | None) -> None:
    """Rewrite the sheet's declared ``<dimension>`` (``None``: remove it), as other writers leave it."""
    def redeclare(xml: bytes) -> bytes:
        sheet = re.sub(r"<dimension [^>]*/>", "", xml.decode())
        if dimension:  # where the schema has it: right after the sheet's properties
            sheet, found = re.subn(r"(</sheetPr>)", rf'\1<dimension ref="{dimension}"/>', sheet, count=1)
            assert found
        return sheet.encode()

    edit_xlsx_sheet(path, redeclare)


@pytest.mark.parametrize("declared", ["A1", "A1:B3", None])
def test_xlsx_rows_past_the_declared_size_are_read(tmp_path, declared):
    """openpyxl's read-only mode stops at the declared size: rows and columns past it would be lost."""
    path = tmp_path / "s.xlsx"
    rows = [["a", "b", "c"], *[[str(i), "x", "y"] for i in range(10)], ["10", "x", "y", "stray"]]
    _workbook(path, rows)
    _redeclare_size(path, declared)
    with XlsxSource(path) as src:
        assert src.header == ["a", "b", "c"]
        recs = list(src.records())
    assert [r.values for r in recs[:10]] == [{"a": str(i), "b": "x", "c": "y"} for i in range(10)]
    assert recs[10].source_row == 12 and recs[10].issue.code == reasons.MALFORMED_ROW  # the stray cell


def test_xlsx_is_not_parsed_whole_to_open_it(tmp_path):
    """Without a declared size openpyxl parses the whole sheet at open (69 s of a 1.4M-row sheet):
    here the first rows come out before a sheet broken further down fails the file."""
    path = tmp_path / "s.xlsx"
    _workbook(path, [["a", "b"], *[[str(i), "x" * 50] for i in range(2000)]])
    _redeclare_size(path, None)
    edit_xlsx_sheet(path, lambda xml: xml[: len(xml) // 2])  # well-formed up to the middle
    with XlsxSource(path) as src:
        records = src.records()
        assert next(records).values == {"a": "0", "b": "x" * 50}
        with pytest.raises(FileFailure) as err:
            list(records)
    assert err.value.code == reasons.UNREADABLE_FILE and "broke off while reading" in err.value.message


def test_not_an_xlsx(tmp_path):
    path = tmp_path / "s.xlsx"
    path.write_text("this is a csv, really\n")
    with pytest.raises(FileFailure, match="UNREADABLE_FILE"):
        XlsxSource(path)
