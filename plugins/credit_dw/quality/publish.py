"""Publish the gated candidate: swap schemas ``marts`` ⇄ ``marts_candidate`` in one transaction.

Why a swap and not copying: a rename is a catalogue change, instant at any size, and atomic, so
analysts see last night's marts or tonight's, never a mix. The old marts become the next
candidate schema (dbt rebuilds it; incremental models continue from their own contents).

Why lock the relations first: a statement resolves table names one at a time. Without locks,
a query joining two marts could resolve the first name before the swap commits and the second
after it. Holding ACCESS EXCLUSIVE on every relation of both schemas makes such a reader wait
(milliseconds) and PostgreSQL then re-resolves the name, so it sees only the new state. The
swap itself waits at most ``lock_timeout`` (below ``deadlock_timeout``, so the swap, never the
reader, is the one that gives up) and is retried; readers get no error.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from credit_dw import changes, db, history

if TYPE_CHECKING:
    from credit_dw.pipeline import BuildPlan

PUBLISHED = "marts"
CANDIDATE = "marts_candidate"
SWAP = "marts_swap"
READER_ROLES = ("analyst", "steward")
# See the published schema, but only the relations dbt grants them (disclosure_* views, the
# register behind disclosure.lookup_person): docs/security.md
AUDIENCE_ROLES = ("audience_public", "audience_application", "audience_authorised", "audience_government",
                  "disclosure_gate")
OWNER_ROLE = "transformer"
VERDICT_ROLE = "gatekeeper"  # the only role that may insert into quality.publication
LOCK_TIMEOUT = "500ms"       # must stay below the server's deadlock_timeout (default 1 s)
ATTEMPTS = 20

_RELATIONS = (
    "select c.oid::regclass::text from pg_class c"
    " join pg_namespace n on n.oid = c.relnamespace"
    " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') order by c.oid"
)


class PublishError(Exception):
    """The candidate could not be published; nothing changed. The message says what to do."""


def publish(run_id: str, dsn: str | None = None, *, require_gate: bool = True,
            plan: BuildPlan | None = None) -> None:
    """Swap the candidate into ``marts``, grant readers, record ``quality.publication``.

    With ``require_gate`` (the default) it refuses unless the marts gate ran for ``run_id`` and
    every one of its validations succeeded: publishing unvalidated data is never an accident.
    ``plan`` (as-of date, what triggered the build) is stored with the verdict.
    """
    with db.connect(dsn) as conn:
        if require_gate:
            _check_gate(conn, run_id)
        # Counted before the swap, outside the lock: counting large tables takes seconds.
        counts = _row_counts(conn, CANDIDATE)
    for attempt in range(ATTEMPTS):
        try:
            with db.connect(dsn) as conn, conn.transaction():
                _swap(conn, run_id, counts, plan)
        except psycopg.errors.LockNotAvailable:
            time.sleep(min(0.05 * 2**attempt, 2.0))  # a reader holds a mart: let it finish
        else:
            changes.deliver_night(run_id, dsn)  # the night's change feed to the webhook, if configured
            return
    raise PublishError(
        f"could not lock the marts for the swap after {ATTEMPTS} attempts: long-running queries "
        f"hold them (see pg_stat_activity); nothing was published, rerun the publish task."
    )


def record_blocked(run_id: str, message: str, dsn: str | None = None, *, plan: BuildPlan | None = None) -> None:
    """Record that a run's candidate was not published and why (the gate's message)."""
    with db.transaction(dsn) as conn:
        _set_verdict_role(conn)
        _record_verdict(conn, run_id, "blocked", message, {}, plan)


# The batches a verdict covers are those the run's feed suites validated: stored explicitly so
# "which build gated this delivery" is one lookup.
_INSERT_VERDICT = (
    "insert into quality.publication (run_id, verdict, message, mart_row_counts, as_of, run_type,"
    " triggering_events, gated_batch_ids)"
    " select %(run_id)s, %(verdict)s, %(message)s, %(counts)s, %(as_of)s, %(run_type)s, %(events)s,"
    "  coalesce((select array_agg(distinct b order by b) from quality.validation_run v,"
    "            unnest(v.batch_ids) as b where v.run_id = %(run_id)s and v.stage = 'feeds'), '{}')"
)


def _record_verdict(conn: psycopg.Connection, run_id: str, verdict: str, message: str,
                    counts: dict[str, int], plan: BuildPlan | None) -> None:
    conn.execute(_INSERT_VERDICT, {
        "run_id": run_id, "verdict": verdict, "message": message, "counts": Jsonb(counts),
        "as_of": plan.as_of if plan else None, "run_type": plan.run_type if plan else None,
        "events": Jsonb(plan.triggering_events if plan else []),
    })


def _check_gate(conn: psycopg.Connection, run_id: str) -> None:
    total, failed = conn.execute(
        "select count(*), count(*) filter (where not success) from quality.validation_run"
        " where run_id = %s and suite like 'mart\\_%%'",
        (run_id,),
    ).fetchone()
    if total == 0:
        raise PublishError(
            f"no marts validation is recorded for run {run_id}: run "
            "credit_dw.quality.gate.validate_candidate_marts first."
        )
    if failed:
        raise PublishError(
            f"{failed} marts validation(s) failed for run {run_id}; the candidate must not be "
            f"published (see quality.validation_run where run_id = '{run_id}')."
        )


def _row_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (table,) in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'p', 'm') order by c.relname",
        (schema,),
    ).fetchall():
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts


def _can_run_as_owner(conn: psycopg.Connection) -> bool:
    """Whether the swap can run with the least privilege it needs: the owner role's."""
    return bool(conn.execute(
        "select pg_has_role(current_user, %(r)s, 'MEMBER')"
        " and has_database_privilege(%(r)s, current_database(), 'CREATE')"
        " and (select bool_and(pg_get_userbyid(nspowner) = %(r)s) from pg_namespace"
        "      where nspname in (%(p)s, %(c)s))",
        {"r": OWNER_ROLE, "p": PUBLISHED, "c": CANDIDATE},
    ).fetchone()[0])


def _set_verdict_role(conn: psycopg.Connection) -> None:
    """Verdicts are written as ``gatekeeper`` (not as the marts' owner, which dbt runs as)."""
    if conn.execute("select pg_has_role(session_user, %s, 'MEMBER')", (VERDICT_ROLE,)).fetchone()[0]:
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(VERDICT_ROLE)))


def _swap(conn: psycopg.Connection, run_id: str, counts: dict[str, int], plan: BuildPlan | None) -> None:
    conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    if _can_run_as_owner(conn):
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(OWNER_ROLE)))
    history.record_publication(conn, run_id)  # versions + change events commit with the swap
    relations = [r for (r,) in conn.execute(_RELATIONS, ([PUBLISHED, CANDIDATE],)).fetchall()]
    if relations:
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(
            sql.SQL(", ").join(sql.SQL(r) for r in relations)  # regclass text is already quoted
        ))
    ident = sql.Identifier
    conn.execute(sql.SQL("alter schema {} rename to {}").format(ident(PUBLISHED), ident(SWAP)))
    conn.execute(sql.SQL("alter schema {} rename to {}").format(ident(CANDIDATE), ident(PUBLISHED)))
    conn.execute(sql.SQL("alter schema {} rename to {}").format(ident(SWAP), ident(CANDIDATE)))
    readers = sql.SQL(", ").join(ident(r) for r in READER_ROLES)
    audiences = sql.SQL(", ").join(ident(r) for r in AUDIENCE_ROLES)
    conn.execute(sql.SQL("grant usage on schema {} to {}, {}").format(ident(PUBLISHED), readers, audiences))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(ident(PUBLISHED), readers))
    conn.execute(sql.SQL("revoke select on all tables in schema {} from analyst").format(ident(CANDIDATE)))
    conn.execute(sql.SQL("revoke usage on schema {} from analyst, {}").format(ident(CANDIDATE), audiences))
    missing = conn.execute(
        "select c.oid::regclass::text, pg_get_userbyid(c.relowner) from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        " and not (has_table_privilege('analyst', c.oid, 'SELECT')"
        "          and has_table_privilege('steward', c.oid, 'SELECT'))",
        (PUBLISHED,),
    ).fetchall()
    if missing:  # raising rolls the whole swap back
        names = ", ".join(f"{name} (owner {owner})" for name, owner in missing)
        raise PublishError(
            f"readers could not be granted select on {names}: the marts must be owned by role "
            f"{OWNER_ROLE} (run dbt with role {OWNER_ROLE}); nothing was published."
        )
    conn.execute("reset role")
    _set_verdict_role(conn)
    _record_verdict(conn, run_id, "published", f"{CANDIDATE} swapped into {PUBLISHED}", counts, plan)
