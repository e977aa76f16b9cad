"""Plain-text summary of what a night did: deliveries, marts, verdict (demo and ``status``)."""

from __future__ import annotations

from datetime import date

from credit_dw import db

PUBLISHED_MARTS = (
    "dim_credit_subject", "fct_credit_record", "subject_credit_profile",
    "public_disclosure", "joint_discipline_list",
)


def _table(headers: list[str], rows: list[tuple]) -> str:
    cells = [headers, *[[("" if v is None else str(v)) for v in r] for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        pairs = enumerate(zip(r, widths, strict=True))
        return "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in pairs)

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def deliveries(conn, days: list[date] | None = None) -> str:
    rows = conn.execute(
        """
        select feed, delivery_date, count(*) as files,
               count(*) filter (where status = 'failed') as failed_files,
               sum(rows_read), sum(rows_loaded), sum(rows_rejected), sum(rows_warned)
        from quality.batch_manifest
        where %(days)s::date[] is null or delivery_date = any(%(days)s::date[])
        group by feed, delivery_date order by delivery_date, feed
        """,
        {"days": days},
    ).fetchall()
    return _table(["feed", "day", "files", "failed", "received", "loaded", "rejected", "warned"], rows)


def marts(conn) -> str:
    rows = []
    for name in PUBLISHED_MARTS:
        exists = conn.execute("select to_regclass(%s)", (f"marts.{name}",)).fetchone()[0]
        count = conn.execute(f"select count(*) from marts.{name}").fetchone()[0] if exists else "—"
        rows.append((f"marts.{name}", count))
    return _table(["published mart", "rows"], rows)


def verdict(conn) -> str:
    row = conn.execute(
        "select verdict, run_id, published_at, message from quality.publication"
        " order by publication_id desc limit 1"
    ).fetchone()
    if not row:
        return "quality gate: no build yet"
    text = f"quality gate: {row[0].upper()} (run {row[1]}, {row[2]:%Y-%m-%d %H:%M})"
    return text + (f"\n  {row[3]}" if row[3] and row[0] != "published" else "")


def render(days: list[date] | None = None) -> str:
    with db.connect() as conn:
        return "\n\n".join([deliveries(conn, days), marts(conn), verdict(conn)])
