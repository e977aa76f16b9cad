"""Latency of the analysts' access paths on the published marts: lookup by USCC, name search.

The marts schema is a parameter: a run that skips the publication (``build.py --no-publish``,
where the disk cannot hold the published copy and its history) measures the candidate marts,
which carry the same tables and indexes.

Each query runs as a server-side prepared statement (psycopg ``prepare=True``), one connection,
after a warm-up, with parameters drawn at random from the marts themselves (fixed seed). The
client-side wall time of execute + fetch over the local TCP socket is what is reported, so the
numbers include the round trip an application pays.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import psycopg
from harness import latency_summary


@dataclass(frozen=True)
class Probe:
    name: str
    sql: str
    parameter: str  # which sample feeds it: "uscc" or "term"
    note: str


PROBES = (
    Probe("profile_by_uscc", "select * from {marts}.subject_credit_profile where subject_key = %s", "uscc",
          "subject profile row; an organisation's subject_key is its USCC"),
    Probe("profile_by_uscc_column", "select * from {marts}.subject_credit_profile where uscc = %s", "uscc",
          "same row found through the profile's uscc column"),
    Probe("dim_by_uscc", "select * from {marts}.dim_credit_subject where uscc = %s", "uscc",
          "subject dimension row by uscc"),
    Probe("records_by_uscc",
          "select record_id, catalogue_item, status, decision_date, summary from {marts}.fct_credit_record"
          " where subject_key = %s order by decision_date desc limit 50", "uscc",
          "a subject's latest 50 credit records"),
    Probe("name_search_dim",
          "select subject_key, name from {marts}.dim_credit_subject where name ilike %s limit 20", "term",
          "subjects whose name contains 3 given characters (pg_trgm gin index)"),
    Probe("name_search_disclosure",
          "select record_id, subject_name, item_name from {marts}.public_disclosure"
          " where subject_name ilike %s limit 20", "term",
          "published records whose subject name contains 3 given characters"),
)


def sample_usccs(conn: psycopg.Connection, n: int, seed: int, marts: str = "marts") -> list[str]:
    """``n`` registered-or-not organisation USCCs present in the published dimension."""
    conn.execute("select setseed(%s)", (((seed % 1000) / 1000.0),))
    return [r[0] for r in conn.execute(
        f"select uscc from {marts}.dim_credit_subject where uscc is not null order by random() limit %s", (n,)
    ).fetchall()]


def sample_terms(conn: psycopg.Connection, n: int, seed: int, marts: str = "marts") -> list[str]:
    """``%xyz%`` patterns: 3 consecutive characters at a random place of random subject names.

    Random windows include generic ones (有限公, 市场监) that match much of the table: the p99
    shows what such a search costs, the median what a distinctive trade name costs.
    """
    conn.execute("select setseed(%s)", (((seed % 1000) / 1000.0),))
    names = [r[0] for r in conn.execute(
        f"select name from {marts}.dim_credit_subject where char_length(name) >= 3 order by random() limit %s",
        (n,)
    ).fetchall()]
    rnd = random.Random(seed)
    terms = []
    for name in names:
        at = rnd.randrange(len(name) - 2)
        terms.append("%" + name[at:at + 3] + "%")
    return terms


def measure(conn: psycopg.Connection, probe: Probe, values: list[str], warmup: int = 20,
            budget_s: float = 120.0, marts: str = "marts") -> dict:
    """Run the probe once per value; returns median/p99/max and the plan of the first value.

    A probe that has no usable index (a sequential scan per call) stops after ``budget_s``
    seconds; ``n`` then says how many calls were timed, ``stopped_early`` that it was cut.
    """
    query = probe.sql.format(marts=marts)
    for value in values[:warmup]:
        conn.execute(query, (value,), prepare=True).fetchall()
    seconds, rows = [], 0
    deadline = time.perf_counter() + budget_s
    for value in values:
        started = time.perf_counter()
        rows += len(conn.execute(query, (value,), prepare=True).fetchall())
        seconds.append(time.perf_counter() - started)
        if started > deadline:
            break
    plan = "\n".join(r[0] for r in conn.execute("explain (analyze, buffers, costs off) " + query,
                                                (values[0],)).fetchall())
    return {**latency_summary(seconds), "stopped_early": len(seconds) < len(values),
            "mean_rows": round(rows / len(seconds), 2), "query": query, "note": probe.note, "plan": plan}


def run(dsn: str, lookups: int, searches: int, seed: int, marts: str = "marts") -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        samples = {"uscc": sample_usccs(conn, lookups, seed, marts),
                   "term": sample_terms(conn, searches, seed, marts)}
        return {p.name: measure(conn, p, samples[p.parameter], marts=marts) for p in PROBES if samples[p.parameter]}
