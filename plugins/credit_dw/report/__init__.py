"""The nightly report for stewards: one static HTML file per night, readable from disk.

Why static HTML with inline CSS and SVG: stewards open it from a share or an e-mail attachment,
without a server and without internet; nothing in it loads from elsewhere. It is written to
``<reports_dir>/<YYYY-MM-DD>/index.html`` and copied to ``<reports_dir>/latest/index.html``.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from credit_dw import db, feedback
from credit_dw.config import reports_dir
from credit_dw.quality.context import data_docs_index
from credit_dw.quality.gate import TIMEZONE, today
from credit_dw.report import charts, data

TEMPLATES = Path(__file__).parent / "templates"


def render_report(out_dir: Path | None = None, as_of: date | None = None, *, run_id: str | None = None,
                  dsn: str | None = None) -> Path:
    """Render the report of night ``as_of`` (default today, Shanghai); returns the dated file.

    Deliveries and rejections are those of delivery date ``as_of``; the gate section shows run
    ``run_id`` when given (a backfill publishes on another day than its logical date), else the
    last publish decision taken on that calendar day.
    """
    as_of = as_of or today()
    root = Path(out_dir) if out_dir else reports_dir()
    target = root / as_of.isoformat() / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    with db.connect(dsn) as conn:
        conn.read_only = True
        deliveries = data.deliveries(conn, as_of)
        context = {
            "as_of": as_of,
            "generated_at": datetime.now(TIMEZONE).strftime("%Y-%m-%d %H:%M Asia/Shanghai"),
            "feeds": [
                {
                    "feed": feed,
                    "tonight": next((n for n in nights if n["delivery_date"] == as_of), None),
                    "nights": nights,
                    "chart": charts.trend_svg(nights, as_of, data.TREND_NIGHTS),
                }
                for feed, nights in sorted(deliveries.items())
            ],
            "rejections": data.rejection_reasons(conn, as_of),
            "gate": data.gate(conn, as_of, run_id),
            "unresolved": data.unresolved_subjects(conn),
            "anomalies": data.register_anomalies(conn),
            "drift": data.field_drift(conn, as_of),
            "trend_nights": data.TREND_NIGHTS,
            "objections": data.pending_objections(conn),
            "deadlines": data.cases_near_deadline(conn),
            "alerts": data.alerts(conn, as_of, run_id),
            "departments": feedback.nightly(conn, as_of, root / "feedback", target.parent),
            "scorecard_nights": feedback.SCORECARD_NIGHTS,
        }
    docs = data_docs_index()
    context["data_docs"] = os.path.relpath(docs, target.parent) if docs.exists() else None
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)  # keep Chinese readable
    env.filters["local"] = _local
    target.write_text(env.get_template("report.html.j2").render(**context), encoding="utf-8")
    latest = root / "latest" / "index.html"
    latest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, latest)  # same depth below root: relative links stay valid
    return target


def _local(value: object) -> str:
    """Timestamps as stewards read them: Asia/Shanghai, to the second."""
    if isinstance(value, datetime):
        return value.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)
