"""Why a subject shows what it shows on a date: grade → rules → records → source line.

The work is one SQL function, ``history.explain_subject(subject, as_of, known_at)`` (migration
V101), so analysts get the very same document in SQL that ``credit-dw explain`` prints and the
subject report renders. It reads the bitemporal history the publish step keeps
(:mod:`credit_dw.history`): as of D shows the rows the marts showed on D, as the warehouse knew
them at ``known_at`` (default: now). This module adds the text rendering and a content hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

import psycopg

from credit_dw.quality.masking import mask_text
from credit_dw.quality.suites import ID_LEAK_EXEMPT_COLUMNS

SHOWN = ("active", "disputed", "corrected")


class ExplainError(Exception):
    """Nothing to explain (unknown subject, or no night published yet); the message says why."""


def explain(conn: psycopg.Connection, subject: str, as_of: date,
            known_at: datetime | None = None) -> dict[str, Any]:
    """The explanation document of ``subject`` (USCC or subject key) on ``as_of``."""
    (doc,) = conn.execute(
        "select history.explain_subject(%s, %s, coalesce(%s, now()))", (subject, as_of, known_at)
    ).fetchone()
    if doc is None:
        (first,) = conn.execute(
            "select min(valid_from) from history.mart_row_version where mart = 'dim_credit_subject'"
        ).fetchone()
        if first is None:
            raise ExplainError("no night has been published with history yet: run `credit-dw build` first")
        raise ExplainError(
            f"no subject {subject!r} was shown on {as_of} (history starts {first}): "
            "give a USCC or a subject key from marts.dim_credit_subject, or a later --as-of"
        )
    return mask_document(doc)  # the marts are masked already; free text gets the same treatment


def mask_document(value: Any, key: str = "") -> Any:
    """Mask ID-like numbers in every string of a JSON-like value, except identifier fields.

    Organisation identifiers (USCC, registration number, organisation code, subject key) may be
    all digits and are public; they are what a reader looks a subject up by, so they stay clear,
    exactly as the marts' leak check exempts them (``suites.ID_LEAK_EXEMPT_COLUMNS``).
    """
    if isinstance(value, str):
        return value if ID_LEAK_EXEMPT_COLUMNS.search(key) else mask_text(value)
    if isinstance(value, dict):
        return {k: mask_document(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_document(v, key) for v in value]
    return value


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the document without ``known_at``: the same facts give the same hash later."""
    facts = {k: v for k, v in doc.items() if k != "known_at"}
    canonical = json.dumps(facts, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _short(record_id: str | None) -> str:
    return (record_id or "")[:12]


def render_text(doc: dict[str, Any]) -> str:
    """The explanation for a terminal: grade and rules, lists, records with their trace."""
    s = doc["subject"]
    who = s.get("uscc") or s.get("id_masked") or s["subject_key"]
    lines = [
        f"{who}  {s.get('name') or ''}  ({s.get('subject_category')}, region {s.get('region_code') or '-'})",
        f"as of {doc['as_of']}, as known at {doc['known_at']}; subject key {s['subject_key']}",
        "",
        f"credit grade: {doc.get('credit_grade') or 'none'}",
    ]
    records = {r["record_id"]: r for r in doc["records"]}
    for rule in doc["rules"]:
        lines.append(f"  rule {rule['rule_code']} -> {rule['grade']}: {rule['reason']}")
        for rid in rule["records"]:
            r = records.get(rid, {})
            lines.append(f"      record {rid}  {r.get('catalogue_item', '')} {r.get('item_name', '')}")
    lines.append("")
    lists = doc["joint_lists"]
    lines.append(f"joint lists: {len(lists)} entr{'y' if len(lists) == 1 else 'ies'}")
    for entry in lists:
        lines.append(f"  {entry['list']}: record {entry.get('record_id')} {entry.get('item_name', '')}"
                     f" listed {entry.get('listed_since')} until {entry.get('listed_until') or 'further notice'}"
                     f" ({entry.get('status')})")
    shown = sum(1 for r in doc["records"] if r.get("status") in SHOWN)
    lines += ["", f"records: {len(doc['records'])} ({shown} in force)"]
    for r in doc["records"]:
        lines.append(f"  record {r['record_id']}  {r.get('catalogue_item')} {r.get('item_name')}")
        lines.append(f"    catalogue edition {r.get('catalogue_edition')}, rule {r.get('rule_version') or '-'};"
                     f" decided {r.get('decision_date')}, publicity {r.get('publicity_start') or '-'}"
                     f" to {r.get('publicity_end') or 'open'}; {r.get('authority_name') or ''}")
        lines.append(f"    status {r.get('status')} since {r.get('status_since')}"
                     f"{', disputed' if r.get('is_disputed') else ''}")
        src = r.get("source") or {}
        lines.append(f"    source: {src.get('feed')} file {src.get('file')} row {src.get('row')},"
                     f" batch {src.get('batch_id')}, delivered {src.get('delivery_date')}")
        history = r.get("status_history") or []
        if len(history) > 1 or any(h.get("to") for h in history):
            steps = "; ".join(f"{h['from']} {h['status']}{' (disputed)' if h.get('is_disputed') else ''}"
                              for h in history)
            lines.append(f"    history: {steps}")
        for o in r.get("objections") or []:
            decided = (f"; {o['status']}{'/' + o['outcome'] if o.get('outcome') else ''} {o.get('resolved_at')}:"
                       f" {o.get('decision_note')}" if o.get("resolved_at") else "; pending")
            lines.append(f"    objection {o['objection_id']} opened {o['opened_at']} by {o['opened_by']}:"
                         f" {o['basis']}{decided}")
        for c in r.get("repairs") or []:
            lines.append(f"    repair {c['repair_id']} effective {c['effective_on']} by {c['approved_by']}:"
                         f" {c['basis']}")
    return "\n".join(lines)
