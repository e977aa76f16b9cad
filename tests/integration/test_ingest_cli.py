"""``credit-dw ingest`` and ``credit-dw status`` over a small delivery."""

from __future__ import annotations

from datetime import date

from test_ingest_support import FIXTURES, deliver

from credit_dw.cli import main


def test_ingest_prints_summary_and_fails_on_a_bad_file(fresh_dsn, landing_root, capsys):
    deliver(landing_root, "penalty", date(2026, 11, 9), {
        "penalty_nj_20261109.csv": FIXTURES / "penalty" / "current.csv",
        "penalty_bad_20261109.csv": FIXTURES / "defects" / "unknown_field_set.csv",
    })
    assert main(["ingest", "penalty", "--date", "2026-11-09"]) == 1
    out, err = capsys.readouterr()
    assert "penalty/2026-11-09/penalty_nj_20261109.csv" in out and "loaded" in out and "failed" in out
    assert "UNKNOWN_FIELD_SET" in err and "penalty_bad_20261109.csv" in err

    assert main(["ingest", "penalty", "--date", "2026-11-09"]) == 1  # good file skipped, bad one fails again
    assert "skipped" in capsys.readouterr().out

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "penalty" in out and "rows read 3, loaded 3, rejected 0" in out
    assert "FAILED batch" in out and "penalty_bad_20261109.csv" in out


def test_ingest_without_done_is_a_user_error(fresh_dsn, landing_root, capsys):
    assert main(["ingest", "tax", "--date", "2026-11-09"]) == 2
    assert "_DONE" in capsys.readouterr().err
