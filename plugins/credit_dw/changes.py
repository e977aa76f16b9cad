"""The change feed for systems that sync: read ``marts.subject_change_event``, post a night's events.

The events themselves are written by the publish step (:mod:`credit_dw.history`), in the
transaction that publishes the night. After the swap, :func:`deliver_night` posts the night's
events as one JSON document to ``CREDIT_DW_CHANGES_WEBHOOK_URL`` when it is set, retrying with
backoff (``CREDIT_DW_CHANGES_WEBHOOK_ATTEMPTS``, default 3), and records every attempt in
``history.webhook_delivery``. Delivery never fails the publication: the data is published
either way, the receiver can catch up with ``credit-dw changes --since D``, and a failed night
is visible in the delivery log. Identity fields are the marts' masked ones.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import psycopg

from credit_dw import db
from credit_dw.explain import mask_document

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
COLUMNS = ("event_id", "night", "subject_key", "subject_category", "subject_name", "uscc", "id_masked",
           "event_type", "record_id", "from_value", "to_value", "run_id", "recorded_at")


def events(conn: psycopg.Connection, since: date, until: date | None = None) -> list[dict[str, Any]]:
    """Published change events of the nights ``since`` .. ``until`` (inclusive), in event order."""
    if not conn.execute("select to_regclass('marts.subject_change_event') is not null").fetchone()[0]:
        return []
    cur = conn.execute(
        f"select {', '.join(COLUMNS)} from marts.subject_change_event"
        " where night >= %s and (%s::date is null or night <= %s::date) order by event_id",
        (since, until, until),
    )
    return [mask_document(dict(zip(COLUMNS, row, strict=True))) for row in cur]


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the query string: it may carry a token


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()
        return response.status


def deliver_night(run_id: str, dsn: str | None = None, *, backoff_seconds: float = 2.0) -> bool | None:
    """Post the published night's events to the webhook; None when no URL is configured.

    Returns whether an attempt succeeded. Never raises for delivery problems (logged + recorded).
    """
    url = os.environ.get("CREDIT_DW_CHANGES_WEBHOOK_URL")
    if not url:
        return None
    attempts = max(1, int(os.environ.get("CREDIT_DW_CHANGES_WEBHOOK_ATTEMPTS") or 3))
    with db.connect(dsn) as conn:
        (night,) = conn.execute("select max(status_as_of) from marts.fct_credit_record").fetchone()
        if night is None:
            return None
        rows = events(conn, night, night)
    body = json.dumps({"night": night, "run_id": run_id, "events": rows},
                      ensure_ascii=False, default=str).encode()
    for attempt in range(1, attempts + 1):
        status, error = None, None
        try:
            status = _post(url, body)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = error is None and status is not None and 200 <= status < 300
        with db.transaction(dsn) as conn:
            conn.execute(
                "insert into history.webhook_delivery"
                " (night, run_id, target, attempt, events, http_status, success, error)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s)",
                (night, run_id, _target(url), attempt, len(rows), status, ok, error),
            )
        if ok:
            return True
        log.warning("change webhook attempt %d/%d for %s failed: %s", attempt, attempts, night, error)
        if attempt < attempts:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    return False
