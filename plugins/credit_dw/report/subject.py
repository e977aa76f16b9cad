"""A subject's credit report: one self-contained HTML page (opens from disk, prints to PDF).

Built from the same explanation document as ``credit-dw explain`` (``credit_dw.explain``), so
every line of the page traces to a record id and the file and row it came from. The page prints
its as-of date, the moment the warehouse's knowledge was read and a SHA-256 of the facts: running
``credit-dw report subject SUBJECT --as-of D --known-at T`` later gives the same hash, which is
how a printed copy is verified. No script, no external resource; IDs are masked.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from credit_dw import db, explain
from credit_dw.config import reports_dir
from credit_dw.report import TEMPLATES

ART11 = {1: "登记注册基本信息", 2: "信用承诺及履行情况", 3: "表彰奖励、慈善捐赠、见义勇为", 4: "行政处罚、裁判等信息",
         5: "拒不履行生效法律文书义务", 6: "拒缴税款、社保费等", 7: "提供虚假材料、隐瞒事实", 8: "其他信息"}


def _by_category(records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(int(r.get("art11_category") or 8), []).append(r)
    return [(f"{k}. {ART11.get(k, '其他信息')}", groups[k]) for k in sorted(groups)]


def render_subject_report(subject: str, as_of: date, known_at: datetime | None = None,
                          out: Path | None = None, dsn: str | None = None) -> tuple[Path, str]:
    """Write the page; returns its path and the content hash printed on it."""
    with db.connect(dsn) as conn:
        doc = explain.explain(conn, subject, as_of, known_at)
    digest = explain.content_hash(doc)
    published = [r for r in doc["records"] if r.get("status") in explain.SHOWN and r.get("is_publishable", True)]
    other = [r for r in doc["records"] if r not in published]
    key = doc["subject"].get("uscc") or doc["subject"]["subject_key"][:16]
    target = Path(out) if out else reports_dir() / "subjects" / f"{key}_{as_of.isoformat()}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("subject.html.j2").render(
        doc=doc, s=doc["subject"], digest=digest, published=_by_category(published), other=other,
        with_governance=[r for r in doc["records"] if r.get("objections") or r.get("repairs")],
        generated_at=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    target.write_text(html, encoding="utf-8")
    return target, digest
