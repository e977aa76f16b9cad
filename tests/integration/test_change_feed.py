"""Change feed, bitemporal history and the webhook, over hand-made candidate marts and real publishes.

Three nights of a two-subject fixture go through the real publish step (schema swap plus
``credit_dw.history``): the change events are checked against a hand-written expectation
(listing, removal, repair, dispute, correction, grade changes, joint list entry and exit); a
rerun adds nothing; replaying an earlier night supersedes what we knew, and an explanation as
known before the replay still shows the old state. The marts are small tables with the columns
the history reads, created as role transformer exactly as dbt would (see test_publish.py).
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import psycopg
import pytest

from credit_dw import changes
from credit_dw.cli import main
from credit_dw.quality import publish

N1, N2, N3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)
ORG = "91110000600037341L"
PERSON = "a" * 64
CLEAR_ID = "110101199003071234"

_DDL = {
    "dim_credit_subject": "subject_key text, subject_category text, name text, uscc text, id_masked text,"
                          " built_at timestamptz default now()",
    "fct_credit_record": "record_id text, subject_key text, feed text, record_type text, catalogue_item text,"
                         " item_name text, art11_category int, status text, status_since date,"
                         " is_disputed boolean, decision_date date, publicity_start date, publicity_end date,"
                         " summary text, batch_id bigint, source_file text, source_row int, status_as_of date,"
                         " built_at timestamptz default now()",
    "subject_credit_profile": "subject_key text, credit_grade text, grade_reasons text[], profile_as_of date",
    "subject_grade_evidence": "subject_key text, credit_grade text, rule_code text, rule_grade text, metric text,"
                              " reason text, record_id text, catalogue_item text, evidence_as_of date",
    "joint_discipline_list": "subject_key text, record_id text, item_name text, listed_since date,"
                             " listed_until date, status text, list_as_of date",
}

# night -> record_id -> (subject, feed, status, disputed, publicity_start)
RECORDS = {
    N1: {"r0": (ORG, "registration", "active", False, "2015-03-01"),
         "r1": (ORG, "penalty", "active", False, "2026-11-01"),
         "r2": (ORG, "judicial", "active", False, "2026-10-01"),
         "r3": (PERSON, "penalty", "active", False, "2026-09-01")},
    N2: {"r0": (ORG, "registration", "active", False, "2015-03-01"),
         "r1": (ORG, "penalty", "disputed", True, "2026-11-01"),
         "r2": (ORG, "judicial", "removed", False, "2026-10-01"),
         "r3": (PERSON, "penalty", "repaired", False, "2026-09-01"),
         "r4": (PERSON, "penalty", "active", False, "2026-11-25")},   # publicity starts later: not shown yet
}
RECORDS[N3] = {**RECORDS[N2], "r1": (ORG, "penalty", "corrected", False, "2026-11-01")}
GRADES = {N1: {ORG: "D", PERSON: "B"}, N2: {ORG: "C", PERSON: "B"}, N3: {ORG: "C", PERSON: "B"}}
LISTED = {N1: {(ORG, "r2")}, N2: set(), N3: set()}

EXPECTED = {
    N1: {(ORG, "listed", "r1", None, "active"), (ORG, "listed", "r2", None, "active"),
         (PERSON, "listed", "r3", None, "active"),
         (ORG, "grade_changed", None, None, "D"), (PERSON, "grade_changed", None, None, "B"),
         (ORG, "entered_joint_discipline", "r2", None, None)},
    N2: {(ORG, "disputed", "r1", "active", "disputed"), (ORG, "removed", "r2", "active", "removed"),
         (PERSON, "repaired", "r3", "active", "repaired"), (ORG, "grade_changed", None, "D", "C"),
         (ORG, "left_joint_discipline", "r2", None, None)},
    N3: {(ORG, "status_changed", "r1", "disputed", "corrected")},
}


def build_candidate(dsn: str, night: date) -> None:
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set local role transformer")
        conn.execute("drop view if exists marts_candidate.subject_change_event")
        for table, columns in _DDL.items():
            conn.execute(f"drop table if exists marts_candidate.{table}")
            conn.execute(f"create table marts_candidate.{table} ({columns})")
        conn.execute("insert into marts_candidate.dim_credit_subject (subject_key, subject_category, name, uscc,"
                     " id_masked) values (%s, 'organisation', '甲公司', %s, null),"
                     " (%s, 'natural_person', '张三', null, '1101**********1234')", (ORG, ORG, PERSON))
        for rid, (subject, feed, status, disputed, start) in RECORDS[night].items():
            conn.execute(
                "insert into marts_candidate.fct_credit_record (record_id, subject_key, feed, record_type,"
                " catalogue_item, item_name, art11_category, status, status_since, is_disputed, decision_date,"
                " publicity_start, summary, batch_id, source_file, source_row, status_as_of)"
                " values (%s, %s, %s, %s || '.x', 'ITEM-' || %s, '事项', 4, %s, %s, %s, %s, %s, %s, 1,"
                " %s, 7, %s)",
                (rid, subject, feed, feed, feed, status, start, disputed, start, start,
                 f"当事人身份证 {CLEAR_ID}" if rid == "r3" else "罚款", f"{feed}/2026-11-20/{feed}.csv", night))
        for subject, grade in GRADES[night].items():
            conn.execute("insert into marts_candidate.subject_credit_profile values (%s, %s, %s, %s)",
                         (subject, grade, [f"G0 grade {grade}"], night))
            conn.execute("insert into marts_candidate.subject_grade_evidence values"
                         " (%s, %s, 'G0', %s, 'adverse_active', %s, %s, 'ITEM', %s)",
                         (subject, grade, grade, f"G0 grade {grade}", "r1" if subject == ORG else None, night))
        for subject, rid in LISTED[night]:
            conn.execute("insert into marts_candidate.joint_discipline_list values"
                         " (%s, %s, '失信被执行人信息', '2026-10-01', null, 'active', %s)", (subject, rid, night))
        # what dbt's marts.subject_change_event view does: the log with the published identity
        conn.execute("create view marts_candidate.subject_change_event as select e.event_id, e.night,"
                     " e.subject_key, d.subject_category, d.name as subject_name, d.uscc, d.id_masked,"
                     " e.event_type, e.record_id, e.from_value, e.to_value, e.run_id, e.recorded_at"
                     " from history.subject_change_event e"
                     " left join marts_candidate.dim_credit_subject d using (subject_key)")


def publish_night(dsn: str, night: date) -> None:
    build_candidate(dsn, night)
    publish.publish(f"run_{night}", dsn, require_gate=False)


def events(dsn: str, night: date) -> set[tuple]:
    with psycopg.connect(dsn) as conn:
        return set(conn.execute(
            "select subject_key, event_type, record_id, from_value, to_value"
            " from history.subject_change_event where night = %s", (night,)).fetchall())


def explain(dsn: str, as_of: date, known_at: datetime | None = None) -> dict:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select history.explain_subject(%s, %s, coalesce(%s, now()))",
                            (ORG, as_of, known_at)).fetchone()[0]


def statuses(doc: dict) -> dict[str, str]:
    return {r["record_id"]: r["status"] for r in doc["records"]}


@pytest.fixture
def three_nights(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("CREDIT_DW_CHANGES_WEBHOOK_URL", raising=False)
    for night in (N1, N2, N3):
        publish_night(fresh_dsn, night)
    return fresh_dsn


def test_each_night_records_exactly_what_it_changed(three_nights: str) -> None:
    for night, expected in EXPECTED.items():
        assert events(three_nights, night) == expected, night


def test_rerunning_a_night_changes_nothing(three_nights: str) -> None:
    with psycopg.connect(three_nights) as conn:
        before = conn.execute("select count(*), max(event_id) from history.subject_change_event").fetchone()
        versions = conn.execute("select count(*) from history.mart_row_version").fetchone()
    publish_night(three_nights, N3)
    with psycopg.connect(three_nights) as conn:
        assert conn.execute("select count(*), max(event_id) from history.subject_change_event").fetchone() == before
        assert conn.execute("select count(*) from history.mart_row_version").fetchone() == versions


def test_explain_as_of_an_earlier_night_shows_that_night(three_nights: str) -> None:
    first, third = explain(three_nights, N1), explain(three_nights, N3)
    assert statuses(first) == {"r0": "active", "r1": "active", "r2": "active"}
    assert statuses(third) == {"r0": "active", "r1": "corrected", "r2": "removed"}
    assert first["credit_grade"] == "D" and third["credit_grade"] == "C"
    assert [e["record_id"] for e in first["joint_lists"]] == ["r2"] and third["joint_lists"] == []
    r1 = next(r for r in third["records"] if r["record_id"] == "r1")
    assert [(h["from"], h["status"]) for h in r1["status_history"]] == [
        ("2026-11-20", "active"), ("2026-11-21", "disputed"), ("2026-11-22", "corrected")]
    assert r1["source"] == {**r1["source"], "row": 7, "file": "penalty/2026-11-20/penalty.csv"}
    assert third["rules"] == [{"rule_code": "G0", "grade": "C", "metric": "adverse_active",
                               "reason": "G0 grade C", "records": ["r1"]}]
    assert explain(three_nights, date(2026, 11, 19)) is None  # nothing was shown before the first night


def test_replaying_an_earlier_night_keeps_what_we_knew_before(three_nights: str) -> None:
    with psycopg.connect(three_nights) as conn:
        (before_replay,) = conn.execute("select now()").fetchone()
    publish_night(three_nights, N1)  # a rebuild of the first night, e.g. after a correction upstream
    assert statuses(explain(three_nights, N3))["r2"] == "active"  # current knowledge: night 1 onwards
    assert statuses(explain(three_nights, N3, before_replay))["r2"] == "removed"  # as known before
    assert events(three_nights, N1) == EXPECTED[N1]


def test_explain_cli_masks_ids_and_fails_cleanly(three_nights: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["explain", PERSON, "--as-of", str(N1), "--json"]) == 0
    out = capsys.readouterr().out
    assert CLEAR_ID not in out and "1101**********1234" in out
    assert json.loads(out)["records"][0]["record_id"] == "r3"
    assert main(["explain", "91110000600037342X", "--as-of", str(N1)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("credit-dw explain: no subject '91110000600037342X' was shown on 2026-11-20")
    assert "Traceback" not in err


def test_changes_cli_lists_the_nights_since(three_nights: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["changes", "--since", str(N2), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["subject_key"], r["event_type"], r["record_id"], r["from_value"], r["to_value"])
            for r in rows} == EXPECTED[N2] | EXPECTED[N3]
    assert [r["event_id"] for r in rows] == sorted(r["event_id"] for r in rows)
    assert main(["changes", "--since", str(N3)]) == 0
    assert "status_changed" in capsys.readouterr().out


class _Hook(BaseHTTPRequestHandler):
    """A real HTTP endpoint: fails the first ``failures`` posts with 503, then accepts."""

    failures = 1
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        status = 503 if len(type(self).bodies) <= type(self).failures else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_webhook_is_retried_and_every_attempt_recorded(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _Hook.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("CREDIT_DW_CHANGES_WEBHOOK_URL", raising=False)
        publish_night(fresh_dsn, N1)
        monkeypatch.setenv("CREDIT_DW_CHANGES_WEBHOOK_URL",
                           f"http://127.0.0.1:{server.server_port}/hook?token=secret")
        publish_night(fresh_dsn, N2)  # publish delivers after the swap: 503, then 200 after 2 s
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Hook.bodies) == 2 and _Hook.bodies[0] == _Hook.bodies[1]
    body = _Hook.bodies[-1]
    assert body["night"] == "2026-11-21" and body["run_id"] == "run_2026-11-21"
    assert {(e["subject_key"], e["event_type"], e["record_id"], e["from_value"], e["to_value"])
            for e in body["events"]} == EXPECTED[N2]
    with psycopg.connect(fresh_dsn) as conn:
        attempts = conn.execute("select attempt, http_status, success, target, events"
                                " from history.webhook_delivery order by attempt").fetchall()
    target = f"http://127.0.0.1:{server.server_port}/hook"  # never the token
    assert attempts == [(1, 503, False, target, 5), (2, 200, True, target, 5)]


def test_webhook_down_never_fails_the_publication(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_night(fresh_dsn, N1)
    monkeypatch.setenv("CREDIT_DW_CHANGES_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens")
    monkeypatch.setenv("CREDIT_DW_CHANGES_WEBHOOK_ATTEMPTS", "2")
    assert changes.deliver_night("run_x", fresh_dsn, backoff_seconds=0) is False
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute("select attempt, success, error is not null from history.webhook_delivery").fetchall()
    assert rows == [(1, False, True), (2, False, True)]


def test_analysts_explain_through_the_function_only(three_nights: str) -> None:
    with psycopg.connect(three_nights) as conn:
        conn.execute("set role analyst")
        doc = conn.execute("select history.explain_subject(%s, %s)", (ORG, N2)).fetchone()[0]
        assert statuses(doc) == {"r0": "active", "r1": "disputed", "r2": "removed"}
        for table in ("history.mart_row_version", "history.subject_change_event", "governance.objection"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")
            conn.rollback()
            conn.execute("set role analyst")
