"""Rotating ``CREDIT_DW_PII_KEY`` without losing a link (issue 11).

Every person key in the warehouse is an HMAC made with that key: the clear-ID hashes
(``restricted.person_identity`` and the raw hash columns), the keys of persons the lists show
masked (HMAC of masked ID + name), the record ids that embed them (judicial entries, tax
ratings of individual businesses) and the stewards' decisions and logs that name them. A new
key must re-key all of them at once, or links break: one transaction maps each old hash to the
new one, computed from what the warehouse keeps in clear (the ID in ``restricted``, the masked
ID and name in raw), after checking that every old hash was made with the old key. Decisions
survive because they are re-keyed in the same transaction. The dbt schemas are rebuilt from raw
afterwards (`credit-dw build --full-refresh`); history rows are re-keyed in place.

Runs as the administrative user (like the purge): it reads the clear IDs and rewrites
append-only tables, whose triggers it lifts for the transaction only; the rotation itself is
recorded in ``governance.pii_key_rotation``.
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg
from psycopg.types.json import Jsonb

from credit_dw import db
from credit_dw.feeds import schema as feed_schema

# raw columns holding a person's keyed hash besides the specs' hash columns: the masked persons'
# party_key (organisations: the USCC, left alone) and hashed taxpayer numbers
_KEY_COLUMNS = {"raw.judicial_listing": ("party_key",), "raw.commitment": ("party_key",),
                "raw.tax_violation": ("taxpayer_number",), "raw.tax_rating": ("taxpayer_number",)}
# append-only tables whose rows name persons: (table, columns re-keyed by the person map)
_AUDIT_PERSON_COLUMNS = {"governance.person_link_decision": ("person_key", "id_hash"),
                         "governance.person_lookup": ("subject_key",)}


class RotationError(Exception):
    """The keys are unusable, or some hash was not made with the old key."""


def key_id(key: bytes) -> str:
    """A fingerprint that names a key in the audit row without revealing it."""
    return hmac.new(key, b"credit-dw key id", hashlib.sha256).hexdigest()[:8]


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _person_map(conn: psycopg.Connection, old: bytes, new: bytes) -> dict[str, str]:
    """Old hash → new hash for every person key, checked against the old key."""
    mapping: dict[str, str] = {}
    wrong = 0
    for id_hash, number in conn.execute("select id_hash, id_number from restricted.person_identity"):
        wrong += _hmac(old, number) != id_hash
        mapping[id_hash] = _hmac(new, number)
        if len(number) == 20:  # an individual business's number: its owner's ID is a key too
            mapping[_hmac(old, number[:18])] = _hmac(new, number[:18])
    for party_key, card, name in conn.execute(
        "select distinct party_key, card_num, party_name from raw.judicial_listing where party_uscc is null"
        " union select distinct party_key, card_num, party_name from raw.commitment where party_uscc is null"
    ):
        text = f"{card or ''}|{name or ''}"
        wrong += _hmac(old, text) != party_key
        mapping[party_key] = _hmac(new, text)
    if wrong:
        raise RotationError(f"{wrong} keyed hash(es) in the warehouse were not made with the old key "
                            "(CREDIT_DW_PII_KEY_OLD): nothing was changed; set the key the warehouse was built with")
    return mapping


def _load_map(conn: psycopg.Connection, name: str, mapping: dict[str, str]) -> None:
    conn.execute(f"create temporary table {name} (old text primary key, new text not null) on commit drop")
    with conn.cursor().copy(f"copy {name} (old, new) from stdin") as copy:
        for pair in mapping.items():
            copy.write_row(pair)
    conn.execute(f"analyze {name}")


def _record_map(conn: psycopg.Connection) -> None:
    """Record ids that embed a person key (dbt's record_id macro), old → new, from raw before re-keying."""
    conn.execute("""
        create temporary table rekey_record on commit drop as
        select distinct md5('judicial|' || j.case_code || '|' || j.party_key || '|' || j.list_type) as old,
               md5('judicial|' || j.case_code || '|' || m.new || '|' || j.list_type) as new
        from raw.judicial_listing as j join rekey_person as m on m.old = j.party_key
        union
        select distinct md5('tax|rating|' || t.taxpayer_number || '|' || t.rating_year::text),
               md5('tax|rating|' || m.new || '|' || t.rating_year::text)
        from raw.tax_rating as t join rekey_person as m on m.old = t.taxpayer_number""")
    conn.execute("create unique index on rekey_record (old)")


def _update(conn: psycopg.Connection, table: str, column: str, mapping: str, counts: dict[str, int]) -> None:
    cur = conn.execute(f"update {table} as t set {column} = m.new from {mapping} as m where t.{column} = m.old")
    counts[f"{table}.{column}"] = cur.rowcount


def _raw_columns() -> dict[str, tuple[str, ...]]:
    columns = {table: tuple(feed_schema.hash_columns(kind)) for table, (_, kind) in feed_schema.file_kinds().items()}
    for table, extra in _KEY_COLUMNS.items():
        columns[table] = tuple(dict.fromkeys(columns.get(table, ()) + extra))
    return {table: cols for table, cols in columns.items() if cols}


def _refuse_orphans(conn: psycopg.Connection) -> None:
    """A keyed hash in raw that nothing in clear explains could not be re-keyed: refuse, change nothing."""
    for table, columns in _raw_columns().items():
        for column in columns:
            (orphans,) = conn.execute(
                f"select count(*) from {table} as t where t.{column} ~ '^[0-9a-f]{{64}}$'"
                f" and not exists (select from rekey_person as m where m.old = t.{column})").fetchone()
            if orphans:
                raise RotationError(f"{orphans} row(s) of {table}.{column} hold a keyed hash with no clear ID in "
                                    "restricted (nor masked ID + name in raw) to re-key it from: nothing was changed")


def rotate_key(old: bytes, new: bytes, dsn: str | None = None) -> dict[str, int]:
    """Re-key every keyed hash from ``old`` to ``new`` in one transaction; rows rewritten per column."""
    if old == new:
        raise RotationError("the old and the new key are the same: set CREDIT_DW_PII_KEY to the new key and "
                            "CREDIT_DW_PII_KEY_OLD to the one the warehouse was built with")
    counts: dict[str, int] = {}
    with db.connect(dsn) as conn, conn.transaction():
        # no load or steward decision may write an old-key hash while the keys move
        conn.execute("lock table restricted.person_identity, governance.person_link_decision in exclusive mode")
        _load_map(conn, "rekey_person", _person_map(conn, old, new))
        _record_map(conn)
        _refuse_orphans(conn)
        _update(conn, "restricted.person_identity", "id_hash", "rekey_person", counts)
        for table, columns in _raw_columns().items():
            for column in columns:
                _update(conn, table, column, "rekey_person", counts)
        audit = [*_AUDIT_PERSON_COLUMNS, "governance.case_intake"]
        for table in audit:
            conn.execute(f"alter table {table} disable trigger append_only")
        for table, columns in _AUDIT_PERSON_COLUMNS.items():
            for column in columns:
                _update(conn, table, column, "rekey_person", counts)
        conn.execute("update governance.person_link_decision set link_id = md5(person_key || '|' || id_hash)")
        _update(conn, "governance.case_intake", "record_id", "rekey_record", counts)
        for table in audit:
            conn.execute(f"alter table {table} enable trigger append_only")
        _rekey_history(conn, counts)
        conn.execute("insert into governance.pii_key_rotation (old_key_id, new_key_id, rows_rekeyed)"
                     " values (%s, %s, %s)", (key_id(old), key_id(new), Jsonb(counts)))
    return counts


def _rekey_history(conn: psycopg.Connection, counts: dict[str, int]) -> None:
    """Published versions and change events keep their subjects and records (keys and contents)."""
    for column in ("subject_key", "row_key"):
        _update(conn, "history.mart_row_version", column, "rekey_person", counts)
    _update(conn, "history.mart_row_version", "row_key", "rekey_record", counts)
    # each version's content names its own subject (and record): replaced by the re-keyed columns' pairs
    for mapping, column in (("rekey_person", "subject_key"), ("rekey_record", "row_key")):
        cur = conn.execute(f"""
            update history.mart_row_version as v
            set content = replace(v.content::text, m.old, m.new)::jsonb
            from {mapping} as m
            where v.{column} = m.new""")
        counts[f"history.mart_row_version.content ({column})"] = cur.rowcount
    _update(conn, "history.subject_change_event", "subject_key", "rekey_person", counts)
    _update(conn, "history.subject_change_event", "record_id", "rekey_record", counts)
