"""Opt-in stand-ins for known performance bugs, so the rest of the pipeline can still be measured.

Only ever applied when a benchmark is run with ``--workaround NAME``; results then record which
workarounds were active. Each one changes a single statement of the code under test, checks
that the statement it replaces is still there, and does nothing (with a message) once the code
has been fixed upstream, so a result can never silently mix both versions.

``snapshot-changed-count``: ``credit_dw.ingest.snapshot.apply_snapshot`` counts changed entries
with ``select count(*) from raw.judicial_listing j where j.first_seen_on = $1 and j.removed_on is
null and exists (select 1 from raw.judicial_listing o where o.removed_on = $1 and <key match>)``.
It runs right after the insert, in the loader's transaction, so the table's statistics are
stale (empty on the first load; never covering today's ``first_seen_on``), the planner expects one
row and picks a nested loop with a sequential scan of the whole table per new entry: quadratic
(8k-entry first snapshot: 20-26 s in this one statement). The loader role cannot ``analyze``
a table it does not own, so the stand-in asks the same question as a set operation
(``intersect`` of the two key sets), which plans as a hash set-op in one pass of each side.
"""

from __future__ import annotations

import sys

from psycopg import sql

AVAILABLE = ("snapshot-changed-count",)


def apply(names: list[str]) -> list[str]:
    """Activate the named workarounds; returns those that were actually needed and applied."""
    applied = []
    for name in names:
        if name not in AVAILABLE:
            raise ValueError(f"unknown workaround {name}; known: {', '.join(AVAILABLE)}")
        if name == "snapshot-changed-count" and _snapshot_changed_count():
            applied.append(name)
    return applied


def _snapshot_changed_count() -> bool:
    import inspect

    from credit_dw.ingest import snapshot

    if getattr(snapshot.apply_snapshot, "_benchmark_workaround", False):
        return True
    if "exists (select 1 from {t} o where o.removed_on" not in inspect.getsource(snapshot.apply_snapshot):
        print("workaround snapshot-changed-count not needed: apply_snapshot no longer has the "
              "nested-loop count", file=sys.stderr)
        return False
    original = snapshot.apply_snapshot

    def apply_snapshot(conn, table, key, columns, day):
        return original(_CountRewriter(conn, table, key), table, key, columns, day)

    apply_snapshot._benchmark_workaround = True  # type: ignore[attr-defined]
    snapshot.apply_snapshot = apply_snapshot
    return True


class _CountRewriter:
    """The loader's connection, except for the one 'changed' count statement."""

    def __init__(self, conn, table: str, key: tuple[str, ...]) -> None:
        self._conn = conn
        self._table = table
        self._key = key

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def execute(self, query, *args, **kwargs):
        text = query.as_string(self._conn) if hasattr(query, "as_string") else str(query)
        if text.startswith("select count(*) from") and "o.removed_on = " in text:
            keys = sql.SQL(", ").join(map(sql.Identifier, self._key))
            query = sql.SQL(
                "select count(*) from (select {keys} from {t} where first_seen_on = %(day)s and removed_on is null"
                " intersect select {keys} from {t} where removed_on = %(day)s) as changed"
            ).format(keys=keys, t=sql.Identifier(*self._table.split(".")))
        return self._conn.execute(query, *args, **kwargs)
