"""Nightly report: rendered from a real warehouse, then opened in headless Chromium from disk."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from credit_dw.cli import main
from credit_dw.report import render_report
from credit_dw.report.data import rejection_reasons

NIGHT = date(2026, 3, 10)
CLEAR_ID = "110101199003071234"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = ("gate", "deliveries", "rejections", "unresolved", "anomalies", "drift", "objections", "deadlines",
            "alerts",
            "data-docs")


def _dom(path: Path, tmp_path: Path) -> str:
    """The DOM Chromium builds from the file: proves it opens from disk with no server."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); cannot open the report")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout


def _populate(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for back in range(10, -1, -1):
            day = NIGHT - timedelta(days=back)
            (batch,) = conn.execute(
                "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
                " rows_read, rows_loaded, rows_rejected, status, started_at)"
                " values ('registration', %s, %s, 1, md5(%s::text), 100, 98, 2, 'loaded', now())"
                " returning batch_id",
                (day, f"registration/{day}/registration_{day:%Y%m%d}.csv", day),
            ).fetchone()
        conn.execute(
            "insert into quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes,"
            " message, raw_record) values (%s, 'registration', 'registration_20260310.csv', 7,"
            " '{USCC_INVALID}', 'field TYSHXYDM: check character fails; correct the code', %s)",
            (batch, f"91110000XXXXXXXXX1,某公司,{CLEAR_ID}"),
        )
        conn.execute(
            "insert into quality.field_drift (batch_id, feed, source_file, field, file_kind, field_set)"
            " values (%s, 'registration', 'registration/2026-03-10/registration_20260310.csv', 'ZCZB',"
            " 'registration', 'standard')",
            (batch,),
        )
        conn.execute(
            "insert into raw.registration (uscc, uscc_check_failed, name, subject_type, status,"
            " updated_at, batch_id, source_file, source_row)"
            " values ('91110000MA0000000X', true, '异常公司', '企业', '存续', '2026-03-09', %s, 'r.csv', 3)",
            (batch,),
        )
        conn.execute(
            "insert into quality.validation_run (suite, target, run_id, success, evaluated, successful,"
            " statistics, failed_expectations, validated_at) values ('mart_public_disclosure',"
            " 'marts_candidate.public_disclosure', 'night-1', false, 3, 2, '{}', %s, %s)",
            (Jsonb([{"expectation": "expect_column_values_to_not_match_regex", "column": "summary",
                     "severity": "critical", "observed": {"unexpected_count": 1},
                     "sample_unexpected": ["身份证 1101**********1234"]}]), f"{NIGHT} 03:00+08"),
        )
        conn.execute(
            "insert into quality.publication (run_id, published_at, verdict, message)"
            " values ('night-1', %s, 'blocked', 'marts gate failed for run night-1')",
            (f"{NIGHT} 03:01+08",),
        )
        conn.execute(
            "insert into governance.case_intake (case_type, record_id, received_on, applicant, basis, opened_by)"
            " values ('objection', 'rec-1', '2026-11-20', '某某公司', '已全额缴纳罚款', 'steward.li')"
        )
        conn.execute(
            "insert into quality.alert (raised_at, dag_id, task_id, run_id, summary)"
            " values (%s, 'build_warehouse', 'gate_marts', 'night-1', 'build_warehouse.gate_marts failed')",
            (f"{NIGHT} 03:01+08",),
        )


def test_report_sections_open_in_chromium(fresh_dsn: str, tmp_path: Path) -> None:
    _populate(fresh_dsn)
    path = render_report(tmp_path / "reports", NIGHT)

    assert path == tmp_path / "reports" / "2026-03-10" / "index.html"
    html = path.read_text(encoding="utf-8")
    assert (tmp_path / "reports" / "latest" / "index.html").read_text(encoding="utf-8") == html
    assert CLEAR_ID not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "report must not load anything remote"

    dom = _dom(path, tmp_path)
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    assert "BLOCKED" in dom and "expect_column_values_to_not_match_regex" in dom
    assert "身份证 1101**********1234" in dom      # masked sample, readable (not \\u-escaped)
    assert "USCC_INVALID" in dom and "registration_20260310.csv" in dom
    assert "91110000MA0000000X" in dom           # register anomaly from raw.registration
    assert "已全额缴纳罚款" in dom                  # pending objection
    drift = dom[dom.index('id="drift"'):dom.index('id="objections"')]
    assert "ZCZB" in drift and "registration_20260310.csv" in drift   # unknown field, feed and file
    assert "<svg" in dom and "class=\"loaded\"" in dom
    assert "build_warehouse.gate_marts failed" in dom


def test_report_renders_on_an_empty_warehouse_via_cli(fresh_dsn: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--date", "2026-03-10", "--out", str(tmp_path / "r")]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "r" / "2026-03-10" / "index.html"
    dom = _dom(path, tmp_path)
    assert "NO PUBLICATION" in dom and "No deliveries in the last 30 nights." in dom
    assert "not available yet" in dom              # marts.unresolved_subject_records absent


def test_gate_section_follows_the_run_id(fresh_dsn: str, tmp_path: Path) -> None:
    """A backfill of night D publishes on another day: the run id finds its verdict."""
    _populate(fresh_dsn)
    html = render_report(tmp_path, NIGHT - timedelta(days=5), run_id="night-1").read_text(encoding="utf-8")
    assert "BLOCKED" in html and "build_warehouse.gate_marts failed" in html
    html = render_report(tmp_path, NIGHT - timedelta(days=5)).read_text(encoding="utf-8")
    assert "NO PUBLICATION" in html


def test_rejection_examples_name_file_and_row_once(fresh_dsn: str) -> None:
    """The loader's message starts with file and row; the report shows them once, beside it."""
    source = "judicial/2026-03-10/judicial_20260310.jsonl"
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        (batch,) = conn.execute(
            "insert into quality.batch_manifest (feed, delivery_date, source_file, file_size, sha256,"
            " rows_read, rows_loaded, rows_rejected, status, started_at)"
            " values ('judicial', %s, %s, 1, md5(%s), 1, 0, 1, 'loaded', now()) returning batch_id",
            (NIGHT, source, source),
        ).fetchone()
        conn.execute(
            "insert into quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes,"
            " message, raw_record) values (%s, 'judicial', %s, 94, '{INVALID_RESIDENT_ID}', %s, '{}')",
            (batch, source, f"{source} row 94: field cardNum = 'x': not an ID; correct it"),
        )
        (reason,) = rejection_reasons(conn, NIGHT)

    (example,) = reason["examples"]
    assert example["source_file"] == source and example["source_row"] == 94
    assert example["message"] == "field cardNum = 'x': not an ID; correct it"
