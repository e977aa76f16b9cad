"""What a feed spec implies for its raw table: columns, types, value sets, keys, DDL.

Why derived and not written again: the spec already says which source field becomes which
column and what its values may be. Everything that needs the raw table's shape (the table itself
for a new feed, the GX raw rules, the purge keys, dbt's sources) reads it from here, so a
sixth feed is one spec plus its dbt models, and a value list (tax rating levels) lives in the
spec alone. Tables created by the early migrations are compared with this derivation by
``tests/unit/test_feed_schema.py`` (it names every difference).
"""

from __future__ import annotations

from dataclasses import dataclass

from credit_dw.feeds import FeedSpec, FieldSpec, FileKind, all_specs

LINEAGE = ("batch_id", "source_file", "source_row")
INTERVAL_COLUMNS = ("first_seen_on", "last_seen_on", "removed_on", "previous_seen_on")

# Field type -> column type; ``sql_type`` in the spec overrides (e.g. amounts kept as text).
SQL_TYPES = {
    "text": "text", "identifier": "text", "enum": "text", "enum_list": "text[]", "date": "date",
    "year_month": "date", "timestamp": "timestamp without time zone", "amount_wan": "numeric(18,2)",
    "amount_cny": "numeric(18,2)", "int": "integer",
}
# Columns written by the named row hooks of credit_dw.ingest.derive (always set).
HOOK_COLUMNS = {"judicial_party_key": ("party_key",), "content_hash": ("content_hash",)}


@dataclass(frozen=True)
class RawColumn:
    """One raw column as the spec implies it."""

    name: str
    sql_type: str
    not_null: bool
    default: str | None = None

    def ddl(self) -> str:
        parts = [f"{self.name} {self.sql_type}"]
        if self.not_null:
            parts.append("not null")
        if self.default is not None:
            parts.append(f"default {self.default}")
        return " ".join(parts)


def _field_columns(f: FieldSpec) -> list[tuple[str, str, bool, str | None]]:
    """(column, sql type, always set when the row is accepted, default) written by one field."""
    out: list[tuple[str, str, bool, str | None]] = []
    if f.column and f.type != "person_id":
        if f.type == "enum_list":
            out.append((f.column, f.sql_type or SQL_TYPES[f.type], True, "'{}'"))
        else:
            out.append((f.column, f.sql_type or SQL_TYPES[f.type], f.required, None))
    for extra in (f.uscc_column, f.hash_column, f.masked_column, f.type_column):
        if extra:
            out.append((extra, "text", False, None))
    if f.flag_column:
        out.append((f.flag_column, "boolean", True, "false"))
    for d in f.derive:
        # a lookup miss rejects the row and a map has its default: set whenever the source is
        always = f.required and (d.lookup is not None or d.default is not None)
        out.append((d.column, "text", always, None))
    return out


def raw_columns(kind: FileKind) -> dict[str, RawColumn]:
    """Every column of ``kind.raw_table``, in spec order; not null when every field set sets it."""
    types: dict[str, str] = {}
    defaults: dict[str, str | None] = {}
    always_by_set: list[set[str]] = []
    for fs in kind.field_sets:
        always: set[str] = set()
        for f in fs.fields:
            for name, sql_type, is_set, default in _field_columns(f):
                types.setdefault(name, sql_type)
                defaults.setdefault(name, default)
                if is_set:
                    always.add(name)
        for name, value in fs.constants.items():
            types.setdefault(name, "text")
            defaults.setdefault(name, None)
            if value is not None:
                always.add(name)
        always_by_set.append(always)
    for hook in kind.derived:
        for name in HOOK_COLUMNS[hook]:
            types.setdefault(name, "text")
            defaults.setdefault(name, None)
            for always in always_by_set:
                always.add(name)
    not_null = set.intersection(*always_by_set) | set(kind.natural_key)
    columns = {n: RawColumn(n, t, n in not_null, defaults[n]) for n, t in types.items()}
    if kind.change_semantics == "daily_snapshot":
        columns |= {"first_seen_on": RawColumn("first_seen_on", "date", True),
                    "last_seen_on": RawColumn("last_seen_on", "date", True),
                    "removed_on": RawColumn("removed_on", "date", False),
                    # last_seen_on before the latest snapshot carried the version (a corrected
                    # snapshot of the same day restores it: V070)
                    "previous_seen_on": RawColumn("previous_seen_on", "date", False)}
    columns |= {"batch_id": RawColumn("batch_id", "bigint", True),
                "source_file": RawColumn("source_file", "text", True),
                "source_row": RawColumn("source_row", "integer", True)}
    return columns


def value_sets(kind: FileKind) -> dict[str, tuple[str, ...]]:
    """Allowed values per scalar column: enum ``values`` (all field sets) and field-set constants."""
    sets: dict[str, list[str]] = {}
    for fs in kind.field_sets:
        for f in fs.fields:
            if f.type == "enum" and f.column:
                sets.setdefault(f.column, [])
                sets[f.column] += [v for v in f.values if v not in sets[f.column]]
        for name, value in fs.constants.items():
            if value is not None and isinstance(value, str):
                sets.setdefault(name, [])
                if value not in sets[name]:
                    sets[name].append(value)
    # a constant column another field set fills from a field with no value list is open
    open_columns = {f.column for fs in kind.field_sets for f in fs.fields
                    if f.column and f.type != "enum"}
    return {c: tuple(v) for c, v in sets.items() if c not in open_columns}


def required_columns(kind: FileKind) -> tuple[str, ...]:
    """Columns of fields marked ``required`` wherever they are mapped, and set in every field set."""
    mapped: dict[str, bool] = {}
    for fs in kind.field_sets:
        for f in fs.fields:
            if f.column and f.type != "person_id":
                mapped[f.column] = mapped.get(f.column, True) and f.required
    columns = raw_columns(kind)
    return tuple(c for c, req in mapped.items() if req and columns[c].not_null)


def uscc_columns(kind: FileKind) -> tuple[str, ...]:
    """Columns that hold a checked USCC (validator ``uscc``, or the ``uscc_column`` of a number)."""
    out: list[str] = []
    for fs in kind.field_sets:
        for f in fs.fields:
            for c in ([f.column] if f.validator == "uscc" else []) + [f.uscc_column]:
                if c and c not in out:
                    out.append(c)
    return tuple(out)


def free_text_columns(kind: FileKind) -> tuple[str, ...]:
    """Columns where a clear personal ID would be a leak: free text and the masked ID columns."""
    out: list[str] = []
    for fs in kind.field_sets:
        for f in fs.fields:
            for c in ([f.column] if f.type == "text" and f.sql_type is None else []) + [f.masked_column]:
                if c and c not in out:
                    out.append(c)
    return tuple(out)


def hash_columns(kind: FileKind) -> tuple[str, ...]:
    """Columns holding the HMAC of a person's ID (the purge clears the register behind them)."""
    return tuple(dict.fromkeys(f.hash_column for fs in kind.field_sets for f in fs.fields if f.hash_column))


def record_key_sql(kind: FileKind) -> list[str]:
    """The record key as the dbt record models build ``natural_key`` (text[] parts)."""
    columns = raw_columns(kind)
    return [k if columns[k].sql_type == "text" else f"{k}::text" for k in kind.record_key]


def file_kinds(specs: list[FeedSpec] | None = None) -> dict[str, tuple[FeedSpec, FileKind]]:
    """``raw.<table>`` -> (spec, file kind) for every feed; a table loaded by two kinds is an error."""
    out: dict[str, tuple[FeedSpec, FileKind]] = {}
    for spec in specs if specs is not None else all_specs():
        for kind in spec.files:
            if kind.raw_table in out:
                raise ValueError(f"{kind.raw_table} is loaded by two file kinds ({out[kind.raw_table][1].name}, "
                                 f"{kind.name}); one file kind per raw table")
            out[kind.raw_table] = (spec, kind)
    return out


def create_table_sql(kind: FileKind) -> str:
    """DDL of ``kind.raw_table`` with its lineage, key and batch indexes (what a migration would say).

    ``batch_id`` has no foreign key, like every raw table since V071: the loader writes the
    manifest row and the file's rows in one transaction, and a per-row check cost a third of COPY.
    """
    schema, table = kind.raw_table.split(".")
    cols = [c.ddl() for c in raw_columns(kind).values()]
    key = ", ".join(kind.natural_key)
    stmts = [f"create table {schema}.{table} (\n    " + ",\n    ".join(cols) + "\n)"]
    if kind.change_semantics == "daily_snapshot":
        stmts.append(f"create index {table}_open on {schema}.{table} ({key}) where removed_on is null")
        stmts.append(f"create index {table}_removed on {schema}.{table} (removed_on) where removed_on is not null")
    else:
        stmts.append(f"create index {table}_key on {schema}.{table} ({key})")
    stmts.append(f"create index {table}_batch on {schema}.{table} (batch_id)")
    return ";\n".join(stmts) + ";\n"


def create_missing_raw_tables(conn) -> list[str]:
    """Create the raw table of every file kind that has none yet; returns the tables created.

    Existing tables are never altered here: a changed table is a versioned migration, and the
    spec test shows what differs.
    """
    created = []
    for table, (_, kind) in file_kinds().items():
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            conn.execute(create_table_sql(kind))
            created.append(table)
    return created
