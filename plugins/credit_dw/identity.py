"""One person, one subject (issue 11): stewards' decisions on candidate person links.

The links themselves are data computed by dbt (``int_person__link_candidates``, listed for
stewards in ``person_link_review``): a person the courts list by masked ID + name, matched to a
person known by a clear ID. Confident links apply by themselves; doubtful ones wait here for a
steward, whose decision is a new row of ``governance.person_link_decision`` (append-only, the
latest per link wins) that the next build applies. Why decisions live outside dbt: they are taken
by people one link at a time, with a name and a reason, and every rebuild must read them again.
Nothing here reads or prints a clear ID: the review list carries masked IDs and keyed hashes.
"""

from __future__ import annotations

import getpass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from credit_dw import db

REVIEW_TABLE = "person_link_review"
DECISIONS = ("accepted", "rejected")


class IdentityError(Exception):
    """A link that does not exist, or a decision the rules do not allow."""


def _review_schema(conn: psycopg.Connection) -> str:
    """The published list (``marts``), else the last built one before the first publication."""
    for schema in ("marts", "marts_candidate"):
        if conn.execute("select to_regclass(%s)", (f"{schema}.{REVIEW_TABLE}",)).fetchone()[0] is not None:
            return schema
    raise IdentityError("no person link list has been built yet: run `credit-dw build` first")


def list_links(status: str | None = "pending", dsn: str | None = None) -> list[dict]:
    """Candidate links (default: the pending ones), most doubtful first; masked IDs only."""
    with db.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        query = sql.SQL(
            "select link_id, masked_id, person_name, candidate_count, confidence, evidence, link_status,"
            " is_applied, decided_by, decided_at, decision_reason from {}.{}"
            " where ({}::text is null or link_status = {})"
            " order by confidence, masked_id, person_name, link_id"
        ).format(sql.Identifier(_review_schema(conn)), sql.Identifier(REVIEW_TABLE),
                 sql.Placeholder(), sql.Placeholder())
        return cur.execute(query, (status, status)).fetchall()


def decide_link(link_id: str, decision: str, reason: str, dsn: str | None = None,
                by: str | None = None) -> dict:
    """Record a steward's decision on a candidate link; applied at the next build."""
    if decision not in DECISIONS:
        raise IdentityError(f"decision must be accepted or rejected, not {decision!r}")
    if not reason.strip():
        raise IdentityError("a decision needs its reason (--reason)")
    by = by or getpass.getuser()
    with db.transaction(dsn) as conn:
        with conn.cursor(row_factory=dict_row) as cur:
            link = cur.execute(
                sql.SQL("select link_id, person_key, linked_subject_key as id_hash, link_status, masked_id,"
                        " person_name from {}.{} where link_id = %s").format(
                    sql.Identifier(_review_schema(conn)), sql.Identifier(REVIEW_TABLE)),
                (link_id.strip(),),
            ).fetchone()
        if link is None:
            raise IdentityError(f"link {link_id} is not in the person link list (see credit-dw identity review); "
                                "copy its link_id from there")
        if link["link_status"] == decision:
            raise IdentityError(f"link {link_id} is already {decision}; nothing to record")
        conn.execute("set local role steward")
        conn.execute("select pg_advisory_xact_lock(hashtext('person_link|' || %s))", (link["link_id"],))
        conn.execute(
            "insert into governance.person_link_decision (link_id, person_key, id_hash, decision, reason, decided_by)"
            " values (%s, %s, %s, %s, %s, %s)",
            (link["link_id"], link["person_key"], link["id_hash"], decision, reason.strip(), by),
        )
    return link | {"decision": decision, "decided_by": by}
