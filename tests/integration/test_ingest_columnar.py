"""The columnar engine stores exactly what the record-at-a-time rules store (issue 9, part 2).

The same deliveries — the bundled samples, a freshly generated day with the generator's planted
defects (10 % of rows here), and a hand-made file mixing every awkward record shape in one file
(multi-line fields, stray quotes, NUL, bad bytes, duplicates across the plain and the row path,
an ID passing the USCC check, a future decision date) — are ingested twice into two fresh
databases: once with ``CREDIT_DW_INGEST_ENGINE=rows`` (the existing per-record path) and once
with the columnar default. Raw rows, quarantined rows (row numbers, reason codes, messages, raw
records), the person register and the manifest counts must be identical.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import date
from pathlib import Path

import pytest
from test_ingest_support import assert_reconciled, query

from conftest import create_fresh_database, drop_database
from credit_dw import identifiers as ids
from credit_dw.config import PROJECT_ROOT
from credit_dw.feeds import all_specs
from credit_dw.generate import DONE_MARKER, generate
from credit_dw.ingest import IngestError, columnar, ingest_delivery

# the feeds the columnar engine loads (CSV delta files without row hooks), from the specs
FEEDS = tuple(s.feed for s in all_specs() if any(columnar.eligible(k) for k in s.files))
GENERATED_DAY = date(2026, 11, 23)
HEADER = ("CF_WSH,CF_XDR_MC,CF_XDR_LB,CF_XDR_SHXYM,CF_XDR_GSZC,CF_XDR_ZJLX,CF_XDR_ZJHM,CF_SY,CF_YJ,CF_CFLB,"
          "CF_NR_FK,CF_JDRQ,CF_YXQ,CF_CFJG,CF_CFJGDM,CZBS")
TAIL = "《广告法》,罚款;警告,0.35,2026-10-30,2099-12-31,南京市市场监督管理局,113201000150986026,I"


def _mixed_file() -> bytes:
    rows = [
        f"宁MIX罚1号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,虚假宣传,{TAIL}",
        f'宁MIX罚2号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,"虚假宣传,\n误导消费者",{TAIL}',
        f'宁MIX罚3号,张三,自然人,,,01,320102199003071239,5"寸屏虚假宣传,{TAIL}',           # stray quote
        f"宁MIX罚4号,李四,自然人,,,01,320102198506120077,身份证320102199003071239,{TAIL}",
        f"宁MIX罚1号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,重复,{TAIL}",  # duplicate (plain)
        f'宁MIX罚2号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,"重,\n复",{TAIL}',  # dup, row path
        f"宁MIX罚5号,王五,自然人,320102198506120077,,,,虚假宣传,{TAIL}",                  # ID as USCC
        f'宁MIX罚6号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,虚假"宣传,{TAIL}',  # stray quote
        f"宁MIX罚7号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,未来,{TAIL}".replace(
            "2026-10-30", "2030-01-01"),
        f"宁MIX罚8号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,含\x00字节,{TAIL}",
        f"宁MIX罚9号,   ,法人及非法人组织,９１３２０１００ＭＡ１Ｗ３ＸＹＵ５５,,,,　全角　,{TAIL}",      # blank name
        "",
        "宁MIX罚10号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,少一列",
    ]
    data = ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")
    return data + "宁MIX罚11号,坏字节".encode("gb18030") + f",法人及非法人组织,,,,,x,{TAIL}\n".encode()


def _plain_file() -> bytes:
    """No quote, no control character: the byte-block path at any block size. Values at the edge
    of the vectorised rules (amounts, all-digit USCCs and the party type, CR LF, tabs, blank
    lines, a CR inside a line, a field too many or too few)."""
    def row(n: int, party: str = "南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55", fine: str = "0.35",
            facts: str = "虚假宣传") -> str:
        return f"宁PLAIN罚{n}号,{party},,,,{facts},{TAIL.replace(',0.35,', f',{fine},')}"
    fines = ["0.1234567", "0.123456", "007.50", "999999999999.999999", "1000000000000", "１２", "12.", ".5", "-1",
             "1e3", " 3.5 ", "0", "0.000000", "12345678901234"]
    rows = [row(i, fine=f) for i, f in enumerate(fines)]
    rows += [
        row(20, party="某甲公司,法人及非法人组织,913207032838462910"),   # all digits, valid: an organisation
        row(21, party="张三,自然人,913207032838462910"),                # the same code for a person
        row(22, party="张三,自然人,320102199003071036"),                # passes both checks: a person
        row(23, party="某乙公司,法人及非法人组织,320102199003071036"),    # passes both: the party type decides
        row(24, party="某丙,,320102199003071124"),                      # no party type: register, embedded code
        row(25, party="某丁公司, 法人及非法人组织 ,913207032838462910"),   # party type padded
        row(26, facts="\t制表符\t"),
        row(27, facts="内含\r回车"),
        row(28) + ",多一列",
        "宁PLAIN罚29号,少列",
        "   ",
        "",
        row(30, facts="身份证 320102199003071239 在文中"),
        row(31, party="某戊公司,法人及非法人组织,ｇｂ"),
    ]
    text = HEADER + "\r\n" + "".join(r + ("\r\n" if i % 2 else "\n") for i, r in enumerate(rows))
    return text.encode("gb18030")


def _legacy_file() -> bytes:
    """The legacy field set's date-times (``SJC``) at the edge of the vectorised rule."""
    stamps = ["2026-11-19 11:03:24", "2026-02-29 10:00:00", "2024-02-29 10:00:00", "2026-11-19 23:59:60",
              "0000-01-01 00:00:00", "2026-11-19T10:00:00", "2026-11-19 9:00:00", "2026/11/19 10:00:00",
              "2026-11-19", "2026-11-19 10:00", "2026-11-19 24:00:00", "２０２６-11-19 10:00:00", "x"]
    lines = ["CF_WSH,CF_XDR_MC,CF_XDR_SHXYM,CF_JDRQ,CF_XZJG,CF_ZT,SJC"]
    lines += [f"锡LEGACY罚{i}号,无锡某某有限公司,91320100MA1W3XYU55,2026-10-30,无锡市应急管理局,0,{s}"
              for i, s in enumerate(stamps)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _dates_file() -> bytes:
    """Dates and resident IDs at the edge of the vectorised rules (exact layouts, check characters)."""
    dates = ["2026-10-30", "2026/10/30", "20261030", "2026/1/5", "2026-1-05", "20260230", "2024-02-29",
             "2026-02-29", "0000-01-01", "00000101", "２０２６-10-30", "2026.10.30", "+2026-10-30", " 2026-10-30 ",
             "20261301", "2026-11-24", "2026-11-23", "2026-10-3x", "2026-10-300"]
    ends = ["2099-12-31", "2099/12/31", "20991231", "2099-1-1", "2027-02-29", "", "2028-02-29"]
    ids = ["32010219900307101X", "32010219900307101x", "320102199003071011", "320102199003071239",
           "320102199003071230", "３２０１０２１９９００３０７１２３９", "32010219900307123"]
    rows = []
    for i, day in enumerate(dates):
        end = ends[i % len(ends)]
        person = ids[i % len(ids)]
        tail = TAIL.replace("2026-10-30", day).replace("2099-12-31", end)
        rows.append(f"宁DATE罚{i}号,张三,自然人,,,01,{person},虚假宣传,{tail}")
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def _register_file() -> bytes:
    """Organisation codes (GB 11714) and registration numbers (ISO 7064 MOD 11,10) at the edge of
    the vectorised checks: hyphen or none, lower case, X and 0 as check characters, letters,
    full-width forms, wrong checks and lengths; one USCC per row so no key repeats."""
    org_codes = ["81232384-1", "812323841", "ma1fc6hf-5", "MA1FC6HF5", "64555828X", "6455582-8X", "64555828-0",
                 "812323842", "ＭＡ１ＦＣ６ＨＦ５", "81232384", "8123238411", "812-32384-1", " 812323841 ", "MAFL225D8",
                 "MAFL225D9", "MA1FC6HF-X", "I1234567-0", ""]
    numbers = ["320303084214137", "320303084214136", "32030308421413", "３２０３０３０８４２１４１３７",
               "320303084214137 ", "32030308421413X", "000000000000000", "", "320113984440081", "320113984440082"]
    base = "913201001234567"
    rows = []
    for i in range(len(org_codes) * 2):
        uscc = base + f"{i:02d}"
        uscc += ids.uscc_check_char(uscc)
        rows.append(f"{uscc},某公司{i},企业,{numbers[i % len(numbers)]},{org_codes[i % len(org_codes)]},某人,"
                    f"2001-01-01,南京市市场监督管理局,南京市某路{i}号,存续,,2026-11-2{i % 3} 10:00:00")
    return ("\n".join(["TYSHXYDM,ZTMC,ZTLX,ZCH,ZZJGDM,FDDBR,CLRQ,DJJG,ZS,DJZT,ZXRQ,GXSJ", *rows]) + "\n").encode()


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("columnar_landing")
    for feed in FEEDS:
        shutil.copytree(PROJECT_ROOT / "samples" / "landing" / feed, root / feed)
    generate(root, GENERATED_DAY, 1, 1500, 909, defect_rate=0.10, feeds=list(FEEDS))
    day = root / "penalty" / GENERATED_DAY.isoformat()
    day.joinpath("penalty_mixed_20261123.csv").write_bytes(_mixed_file())
    day.joinpath("penalty_plain_20261123.csv").write_bytes(_plain_file())
    day.joinpath("penalty_legacy_plain_20261123.csv").write_bytes(_legacy_file())
    day.joinpath("penalty_dates_20261123.csv").write_bytes(_dates_file())
    register = root / "registration" / GENERATED_DAY.isoformat()
    register.joinpath("registration_edges_20261123.csv").write_bytes(_register_file())
    return root


def _ingest_all(dsn: str, root: Path) -> None:
    for feed in FEEDS:
        for folder in sorted((root / feed).iterdir()):
            with contextlib.suppress(IngestError):  # failed files are compared through the manifest
                ingest_delivery(feed, date.fromisoformat(folder.name), dsn=dsn, landing_root=root)


def _state(dsn: str) -> dict[str, list]:
    state = {}
    for table in ("raw.registration", "raw.penalty", "raw.tax_violation", "raw.tax_rating"):
        columns = [c for (c,) in query(dsn, "select column_name from information_schema.columns where"
                                            " table_schema || '.' || table_name = %s and column_name <> 'batch_id'"
                                            " order by ordinal_position", (table,))]
        state[table] = query(dsn, f"select {', '.join(columns)} from {table} order by source_file, source_row")
    state["rejected"] = query(dsn, "select source_file, source_row, reason_codes, message, raw_record"
                                   " from quality.rejected_rows order by source_file, source_row, message")
    state["persons"] = query(dsn, "select id_hash, id_number, id_type, id_masked from restricted.person_identity"
                                  " order by id_hash")
    state["manifest"] = query(dsn, "select source_file, status, rows_read, rows_loaded, rows_rejected, rows_warned,"
                                   " encoding, field_set, message from quality.batch_manifest order by source_file")
    return state


def _both_engines(monkeypatch, ingest) -> tuple[dict, dict]:
    """``ingest(dsn)`` with the row engine, then with the columnar one, each into a fresh database:
    the two states, after asserting they are identical and the columnar batches reconcile."""
    expected_dsn, actual_dsn = create_fresh_database(), create_fresh_database()
    try:
        monkeypatch.setenv("CREDIT_DW_INGEST_ENGINE", "rows")
        ingest(expected_dsn)
        monkeypatch.setenv("CREDIT_DW_INGEST_ENGINE", "columnar")
        ingest(actual_dsn)
        expected, actual = _state(expected_dsn), _state(actual_dsn)
        for name in expected:
            assert actual[name] == expected[name], name
        assert_reconciled(actual_dsn)
        return expected, actual
    finally:
        drop_database(expected_dsn)
        drop_database(actual_dsn)


@pytest.mark.parametrize(("block_bytes", "block_lines", "known_limit"),
                         [(columnar.BLOCK_BYTES, columnar.BLOCK_LINES, columnar.KNOWN_LIMIT), (300, 7, 5)],
                         ids=["default-blocks", "tiny-blocks"])
def test_columnar_engine_stores_what_the_row_rules_store(landing, monkeypatch, block_bytes, block_lines, known_limit):
    """``default-blocks`` reads the plain files as byte blocks; ``tiny-blocks`` crosses block
    boundaries (a quoted record across two byte blocks, plain blocks next to blocks of the row
    path) and forgets known outcomes all the time."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(columnar, "BLOCK_LINES", block_lines)
    monkeypatch.setattr(columnar, "KNOWN_LIMIT", known_limit)
    expected, _actual = _both_engines(monkeypatch, lambda dsn: _ingest_all(dsn, landing))
    assert sum(len(v) for v in expected.values()) > 3000  # the comparison is about real volume
    codes = {c for _f, _r, cs, _m, _raw in expected["rejected"] for c in cs}
    assert {"MALFORMED_ROW", "DUPLICATE_KEY", "NUL_BYTE", "ENCODING", "PERSON_ID_AS_USCC",
            "DATE_AFTER_DELIVERY", "MISSING_REQUIRED", "INVALID_USCC", "INVALID_AMOUNT",
            "INVALID_TIMESTAMP", "INVALID_DATE", "INVALID_RESIDENT_ID", "INVALID_ORG_CODE",
            "INVALID_REG_NUMBER"} <= codes
    plain = [r for r in expected["raw.penalty"] if "PLAIN" in str(r) or "LEGACY" in str(r)]
    assert len(plain) > 20  # the edge files load (not rejected as a whole)
    assert len([r for r in expected["raw.penalty"] if "DATE罚" in str(r)]) >= 4
    edges = [r for r in expected["raw.registration"] if "registration_edges" in str(r)]
    assert len(edges) >= 10 and any("MA1FC6HF5" in str(r) for r in edges)  # valid codes, normalised


def test_a_file_sent_twice_in_one_quarantines_every_repeat(tmp_path, monkeypatch):
    """A department appends its file to itself: every row of the second half repeats a key of the
    first. The repeats are found, deleted from raw and quarantined a batch at a time (a batch of 7
    here, so the forward re-read of the file crosses many batches), with the verbatim records
    the record-at-a-time rules give them, the quoted multi-line ones included."""
    monkeypatch.setattr(columnar, "DUPLICATE_BATCH", 7)
    rows = [f"宁TWICE罚{i}号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,虚假宣传{i},{TAIL}"
            for i in range(150)]
    rows.insert(3, f'宁TWICE罚X号,南京某某科技有限公司,法人及非法人组织,91320100MA1W3XYU55,,,,"两行,\n事实",{TAIL}')
    header = HEADER
    day = tmp_path / "landing" / "penalty" / GENERATED_DAY.isoformat()
    day.mkdir(parents=True)
    day.joinpath("penalty_twice_20261123.csv").write_text("\n".join([header, *rows, *rows]) + "\n", encoding="utf-8")
    day.joinpath(DONE_MARKER).touch()
    _expected, actual = _both_engines(monkeypatch, lambda dsn: ingest_delivery(
        "penalty", GENERATED_DAY, dsn=dsn, landing_root=tmp_path / "landing"))
    repeats = [r for r in actual["rejected"] if r[2] == ["DUPLICATE_KEY"]]
    assert len(repeats) == len(rows) == 151  # the multi-line record is one record, one repeat
    assert any("两行,\n事实" in raw for *_, raw in repeats)
