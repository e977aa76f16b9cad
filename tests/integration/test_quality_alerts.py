"""Alerts: stored in quality.alert, posted to a real local webhook and SMTP endpoint, never raised."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import psycopg
import pytest

from credit_dw.quality import alerts


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CREDIT_DW_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A minimal SMTP endpoint (enough of RFC 5321 for smtplib.send_message)."""
    messages: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test\r\n")
            while line := self.rfile.readline():
                verb = line.decode().strip().split(" ")[0].upper()
                if verb == "DATA":
                    self.wfile.write(b"354 go\r\n")
                    body = []
                    while (data := self.rfile.readline()) != b".\r\n":
                        body.append(data.decode("utf-8", "replace"))
                    messages.append("".join(body))
                    self.wfile.write(b"250 ok\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CREDIT_DW_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CREDIT_DW_ALERT_SMTP_PORT", str(server.server_address[1]))
    monkeypatch.setenv("CREDIT_DW_ALERT_SMTP_TO", "steward@example.org")
    yield messages
    server.shutdown()
    server.server_close()


def test_failure_callback_stores_and_delivers(warehouse_dsn: str, webhook: list[dict], smtp: list[str]) -> None:
    ti = SimpleNamespace(dag_id="build_warehouse", task_id="gate_marts", run_id="r1", try_number=1,
                         log_url="http://airflow/log")
    error = RuntimeError("marts gate failed: public_disclosure.summary had 110101199003071234")
    alerts.on_failure_callback({"ti": ti, "run_id": "r1", "exception": error})

    with psycopg.connect(warehouse_dsn) as conn:
        row = conn.execute(
            "select dag_id, task_id, run_id, summary, detail, delivered_to from quality.alert"
            " where run_id = 'r1'"
        ).fetchone()
    dag_id, task_id, run_id, summary, detail, delivered = row
    assert (dag_id, task_id, run_id) == ("build_warehouse", "gate_marts", "r1")
    assert summary.startswith("build_warehouse.gate_marts failed: marts gate failed")
    assert "1101**********1234" in detail["exception"] and "110101199003071234" not in json.dumps(detail)
    assert detail["exception_type"] == "RuntimeError"
    assert delivered.startswith("webhook 127.0.0.1:") and "email steward@example.org" in delivered
    assert webhook[0]["summary"] == summary and webhook[0]["dag_id"] == "build_warehouse"
    assert "gate_marts failed" in smtp[0]


def test_callback_never_raises(warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_DW_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    alerts.on_failure_callback({"run_id": "r2", "exception": ValueError("boom")})
    with psycopg.connect(warehouse_dsn) as conn:
        (detail,) = conn.execute("select detail from quality.alert where run_id = 'r2'").fetchone()
    assert detail["delivery_errors"][0].startswith("webhook: URLError")

    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://nobody@127.0.0.1:1/none")
    alerts.on_failure_callback({"run_id": "r3", "exception": ValueError("db down too")})  # no raise
