"""Alerts: a structured row in ``quality.alert`` plus e-mail and/or webhook when configured.

Why the row first-class: a steward reading the report sees every alert even when no mail
server is configured; delivery targets and delivery errors are stored with it. Configuration
comes only from the environment (no secret in code or in the DAG):

- ``CREDIT_DW_ALERT_WEBHOOK_URL``: JSON POST ``{summary, severity, dag_id, task_id, run_id, detail}``
- ``CREDIT_DW_ALERT_SMTP_HOST`` (enables e-mail), ``_PORT`` (25), ``_USER``, ``_PASSWORD``,
  ``_STARTTLS`` (``true``/``false``), ``_FROM``, ``_TO`` (comma-separated)

:func:`on_failure_callback` never raises: an alerting problem must not hide the task's own error.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from psycopg.types.json import Jsonb

from credit_dw import db
from credit_dw.quality.masking import mask_values

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


def raise_alert(summary: str, detail: dict[str, Any] | None = None, *, dag_id: str | None = None,
                task_id: str | None = None, run_id: str | None = None, severity: str = "error",
                dedupe_key: str | None = None, dsn: str | None = None) -> int | None:
    """Deliver an alert to the configured channels and store it; returns ``alert_id``.

    With ``dedupe_key``, an alert whose key was already raised is neither delivered nor stored
    again (returns None): a batch that blocks three builds in one night alerts once.
    Delivery failures are recorded in ``detail.delivery_errors``, not raised; a database error
    is raised (the CLI should say so).
    """
    if dedupe_key is not None and _already_raised(dedupe_key, dsn):
        log.info("alert %s already raised; not repeated: %s", dedupe_key, summary.splitlines()[0])
        return None
    summary = mask_values(summary)
    detail = mask_values(dict(detail or {}))
    payload = {"summary": summary, "severity": severity, "dag_id": dag_id, "task_id": task_id,
               "run_id": run_id, "detail": detail}
    delivered: list[str] = []
    errors: list[str] = []
    for name, send in (("webhook", _send_webhook), ("email", _send_email)):
        try:
            target = send(payload)
        except Exception as exc:  # one channel failing must not stop the other
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            if target:
                delivered.append(target)
    if errors:
        detail["delivery_errors"] = errors
    with db.transaction(dsn) as conn:
        (alert_id,) = conn.execute(
            "insert into quality.alert (dag_id, task_id, run_id, severity, summary, detail, delivered_to, dedupe_key)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s) returning alert_id",
            (dag_id, task_id, run_id, severity, summary, Jsonb(detail), "; ".join(delivered) or None, dedupe_key),
        ).fetchone()
    return alert_id


def _already_raised(dedupe_key: str, dsn: str | None) -> bool:
    with db.connect(dsn) as conn:
        return conn.execute("select 1 from quality.alert where dedupe_key = %s", (dedupe_key,)).fetchone() is not None


def gate_dedupe_key(exception: BaseException | None) -> str | None:
    """The cause of a blocked build, if ``exception`` is one: stage plus the failing batches.

    A feed gate blocked by the same batches is the same problem however often a build meets
    it; a marts gate failure is keyed by its run (each night's marts are new).
    """
    from credit_dw.quality.gate import QualityGateError

    while exception is not None and not isinstance(exception, QualityGateError):
        exception = exception.__cause__
    if exception is None:
        return None
    result = exception.result
    if result.stage != "feeds":
        return f"gate:{result.stage}:{result.run_id}"
    batches = sorted({b for o in result.outcomes if not o.success for b in o.statistics.get("batch_ids", [])})
    return "gate:feeds:" + ",".join(map(str, batches))


def on_failure_callback(context: dict[str, Any]) -> None:
    """Airflow ``on_failure_callback``: alert with DAG, task, run and the exception text."""
    try:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None)
        task_id = getattr(ti, "task_id", None)
        run_id = context.get("run_id") or getattr(ti, "run_id", None)
        exception = context.get("exception")
        text = str(exception) if exception is not None else "no exception in context"
        first_line = text.strip().splitlines()[0] if text.strip() else type(exception).__name__
        detail = {
            "exception_type": type(exception).__name__ if exception is not None else None,
            "exception": text,
            "try_number": getattr(ti, "try_number", None),
            "logical_date": str(context.get("logical_date")) if context.get("logical_date") else None,
            "run_after": str(getattr(context.get("dag_run"), "run_after", "")) or None,
            "log_url": getattr(ti, "log_url", None),
        }
        raise_alert(f"{dag_id}.{task_id} failed: {first_line}", detail,
                    dag_id=dag_id, task_id=task_id, run_id=run_id, dedupe_key=gate_dedupe_key(exception))
    except Exception:  # never mask the task's failure with ours
        log.exception("could not raise the failure alert")


def _send_webhook(payload: dict[str, Any]) -> str | None:
    url = os.environ.get("CREDIT_DW_ALERT_WEBHOOK_URL")
    if not url:
        return None
    request = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False, default=str).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()
    return f"webhook {urlsplit(url).netloc}"  # the host only: a URL may carry a token


def _send_email(payload: dict[str, Any]) -> str | None:
    env = os.environ.get
    host = env("CREDIT_DW_ALERT_SMTP_HOST")
    recipients = [a.strip() for a in (env("CREDIT_DW_ALERT_SMTP_TO") or "").split(",") if a.strip()]
    if not host or not recipients:
        return None
    message = EmailMessage()
    message["Subject"] = f"[credit-dw {payload['severity']}] {payload['summary']}"[:200]
    message["From"] = env("CREDIT_DW_ALERT_SMTP_FROM") or "credit-dw@localhost"
    message["To"] = ", ".join(recipients)
    message.set_content(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    with smtplib.SMTP(host, int(env("CREDIT_DW_ALERT_SMTP_PORT") or 25), timeout=TIMEOUT_SECONDS) as smtp:
        if (env("CREDIT_DW_ALERT_SMTP_STARTTLS") or "").lower() in {"1", "true", "yes"}:
            smtp.starttls()
        if env("CREDIT_DW_ALERT_SMTP_USER"):
            smtp.login(env("CREDIT_DW_ALERT_SMTP_USER"), env("CREDIT_DW_ALERT_SMTP_PASSWORD") or "")
        smtp.send_message(message)
    return "email " + ", ".join(recipients)
