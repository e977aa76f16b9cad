"""Roles and disclosure scopes on a built and published warehouse (Art. 8, 10).

Every role's privileges on every schema are read from the catalogue and compared with the
matrix in docs/security.md; each disclosure audience role reads its own view and nothing else;
person lookups by the authorised audiences are logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import psycopg
import pytest
from test_dbt_build import (
    AUTHORITY,
    NIGHT_2,
    ORG_A,
    ORG_B,
    PERSON_HASH,
    build,
    load_night_1,
    load_night_2,
    private_warehouse,
    record_id,
)

from credit_dw.quality import publish

pytestmark = pytest.mark.slow

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROLES = ("loader", "transformer", "gatekeeper", "analyst", "steward", "disclosure_gate",
         "audience_public", "audience_application", "audience_authorised", "audience_government")
SCHEMAS = ("raw", "restricted", "quality", "governance", "history", "disclosure", "extensions", "staging",
           "intermediate", "snapshots", "marts", "marts_candidate", "public")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
# marts_candidate holds last night's or tonight's tables depending on the night: schema level only
OBJECTS_NOT_COMPARED = ("marts_candidate",)

AUDIENCE_VIEWS = {
    "audience_public": "disclosure_public",
    "audience_application": "disclosure_on_application",
    "audience_authorised": "disclosure_authorised",
    "audience_government": "disclosure_government",
}
WARNING_ONLY = record_id("penalty", AUTHORITY, "宁市监罚〔2026〕4号")               # government sharing
TAX_RATING_D = record_id("tax", "rating", ORG_B, "2025")                                    # authorised query
SI_NOTICE = record_id("social_insurance", "11320100MB3333333X", "宁人社通〔2026〕2号", "工伤保险")  # on application
PERSON_PENALTY = record_id("penalty", AUTHORITY, "宁市监罚〔2026〕6号")              # actively public, a person


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("dbt_security")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_sec") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
            load_night_2(conn)
        build(dsn, flags, NIGHT_2)
        publish.publish("security-test", dsn, require_gate=False)
        yield dsn


def _privileges(conn: psycopg.Connection, role: str, schema: str) -> tuple[str, str]:
    """(schema privileges, objects) of one role on one schema, in the words of the matrix."""
    on_schema = [p for p in ("USAGE", "CREATE")
                 if conn.execute("select has_schema_privilege(%s, %s, %s)", (role, schema, p)).fetchone()[0]]
    # a privilege on some columns only is written SELECT(col, ...)
    relations = conn.execute(
        "select c.relname, pg_get_userbyid(c.relowner) = %(role)s,"
        " array(select case when has_table_privilege(%(role)s, c.oid, p) then p"
        "   else p || '(' || (select string_agg(a.attname, ', ' order by a.attnum) from pg_attribute a"
        "     where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        "     and has_column_privilege(%(role)s, c.oid, a.attnum, p)) || ')' end"
        "   from unnest(%(privileges)s::text[]) as p"
        "   where has_table_privilege(%(role)s, c.oid, p)"
        "      or (p <> 'DELETE' and p <> 'TRUNCATE' and has_any_column_privilege(%(role)s, c.oid, p)))"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'v', 'm', 'f') order by c.relname",
        {"role": role, "privileges": list(TABLE_PRIVILEGES), "schema": schema},
    ).fetchall()
    functions = conn.execute(
        "select p.proname, pg_get_userbyid(p.proowner) = %s, has_function_privilege(%s, p.oid, 'EXECUTE')"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s"
        " and p.prokind = 'f' and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')"
        " order by p.proname",
        (role, role, schema),
    ).fetchall()
    objects: list[str] = []
    if relations and all(owned for _, owned, _ in relations):
        objects.append("owner of every relation")
    elif relations and len({tuple(p) for _, _, p in relations}) == 1 and relations[0][2]:
        objects.append("all relations: " + " ".join(relations[0][2]))
    else:
        objects += [f"{name}: {'owner' if owned else ' '.join(p)}" for name, owned, p in relations if owned or p]
    objects += [f"{name}(): {'owner' if owned else 'EXECUTE'}" for name, owned, ok in functions if owned or ok]
    if schema in OBJECTS_NOT_COMPARED:
        objects = []
    return " ".join(on_schema), "; ".join(objects)


def actual_matrix(conn: psycopg.Connection) -> set[tuple[str, str, str, str]]:
    rows = set()
    for role in ROLES:
        if conn.execute("select has_database_privilege(%s, current_database(), 'CREATE')", (role,)).fetchone()[0]:
            rows.add((role, "(database)", "CREATE", ""))
        for schema in SCHEMAS:
            on_schema, objects = _privileges(conn, role, schema)
            if on_schema or objects:
                rows.add((role, schema, on_schema, objects))
    return rows


def documented_matrix() -> set[tuple[str, str, str, str]]:
    """The rows of the table under '## Privilege matrix' in docs/security.md."""
    text = SECURITY_DOC.read_text(encoding="utf-8")
    section = text.split("## Privilege matrix", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ROLES:
            rows.add(tuple(cells))
    return rows


def test_every_role_has_exactly_the_privileges_documented_in_security_md(published: str) -> None:
    with psycopg.connect(published) as conn:
        actual = actual_matrix(conn)
        schemas = {s for (s,) in conn.execute(
            "select nspname from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'")}
    assert schemas == set(SCHEMAS), "a schema the matrix does not cover: add it to SCHEMAS and docs/security.md"
    documented = documented_matrix()
    missing = "\n".join("| " + " | ".join(r) + " |" for r in sorted(documented - actual))
    extra = "\n".join("| " + " | ".join(r) + " |" for r in sorted(actual - documented))
    assert actual == documented, f"documented but not granted:\n{missing}\ngranted but not documented:\n{extra}"


def test_role_memberships_are_the_documented_ones(published: str) -> None:
    with psycopg.connect(published) as conn:
        members = conn.execute(
            "select m.rolname, array_agg(r.rolname::text order by r.rolname) from pg_auth_members a"
            " join pg_roles m on m.oid = a.member join pg_roles r on r.oid = a.roleid"
            " where m.rolname = any(%s) group by m.rolname",
            (["pipeline", *ROLES],),
        ).fetchall()
    assert members == [("pipeline", ["gatekeeper", "loader", "steward", "transformer"])]


def _visible(conn: psycopg.Connection, role: str, view: str) -> set[str]:
    conn.execute(f"set role {role}")
    try:
        return {r for (r,) in conn.execute(f"select record_id from marts.{view}")}
    finally:
        conn.execute("reset role")


def test_each_audience_role_sees_exactly_its_scope(published: str) -> None:
    with psycopg.connect(published, autocommit=True) as conn:
        seen = {role: _visible(conn, role, view) for role, view in AUDIENCE_VIEWS.items()}
        public_disclosure = {r for (r,) in conn.execute("select record_id from marts.public_disclosure")}
        persons = {r for (r,) in conn.execute(
            "select record_id from marts.disclosure_register where subject_category = 'natural_person'")}
        # the public audience sees exactly the public disclosure mart
        assert seen["audience_public"] == public_disclosure and PERSON_PENALTY in public_disclosure
        # each wider audience sees what the narrower one does, and more
        order = list(AUDIENCE_VIEWS)
        for narrow, wide in pairwise(order):
            assert seen[narrow] < seen[wide], (narrow, wide)
        # the catalogue's attribute decides: on application, authorised query, government sharing
        assert [SI_NOTICE in seen[r] for r in order] == [False, True, True, True]
        assert [TAX_RATING_D in seen[r] for r in order] == [False, False, True, True]
        assert [WARNING_ONLY in seen[r] for r in order] == [False, False, False, True]
        # persons beyond what is published: only through the logged lookup
        for role in order:
            assert seen[role] & persons <= public_disclosure
        # and nobody reads another audience's view, the register or the fact
        for role in order:
            conn.execute(f"set role {role}")
            for relation in [*(f"marts.{v}" for r, v in AUDIENCE_VIEWS.items() if r != role),
                             "marts.disclosure_register", "marts.fct_credit_record", "raw.penalty"]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"select 1 from {relation} limit 1")
            conn.execute("reset role")


def test_person_lookups_by_authorised_roles_are_logged(published: str) -> None:
    with psycopg.connect(published, autocommit=True) as conn:
        subject = conn.execute("select subject_key from marts.fct_credit_record where record_id = %s",
                               (PERSON_PENALTY,)).fetchone()[0]
        assert subject == PERSON_HASH
        conn.execute("set role audience_authorised")
        found = conn.execute("select record_id from disclosure.lookup_person(%s, %s)",
                             (subject, "合同签订前的信用核查")).fetchall()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="purpose"):
            conn.execute("select * from disclosure.lookup_person(%s, '')", (subject,))
        conn.execute("reset role")
        assert found == [(PERSON_PENALTY,)]
        log = conn.execute("select looked_up_by, via_role, subject_key, purpose, rows_returned"
                           " from governance.person_lookup").fetchall()
        assert log == [("postgres", "audience_authorised", subject, "合同签订前的信用核查", 1)]
        for role in ("audience_public", "audience_application", "analyst"):
            conn.execute(f"set role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select * from disclosure.lookup_person(%s, 'x')", (subject,))
            conn.execute("reset role")
        # the organisation key is not a person: nothing returned, still logged
        conn.execute("set role audience_government")
        assert conn.execute("select * from disclosure.lookup_person(%s, 'x')", (ORG_A,)).fetchall() == []
        conn.execute("reset role")
        assert conn.execute("select count(*) from governance.person_lookup").fetchone()[0] == 2


def test_the_matrix_parser_reads_the_doc() -> None:
    rows = documented_matrix()
    assert {r[0] for r in rows} == set(ROLES)
    assert all(re.fullmatch(r"(USAGE ?|CREATE ?)*", r[2]) for r in rows)
