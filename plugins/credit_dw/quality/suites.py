"""The expectation suites, as code: the one source of truth, reviewed in version control.

Why code and not JSON files: several suites depend on the warehouse itself (the mart ID-leak
check covers every text column of every candidate table, found in the catalogue at run time)
or on the night (row-count bounds from the trailing median, the as-of date of publicity
windows). Code builds them from the small rule tables below; GX's JSON under
``expectations/gx/expectations/`` is a generated copy (git-ignored) that Data Docs render.

The raw tables' rules come from the feed specs (``rules_from_spec``): a new feed is gated
without a line here. Run-time numbers enter as GX suite parameters (``{"$PARAMETER": name}``), so the stored suite
shows which parameter a bound came from and the validation result shows its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from credit_dw.feeds import FeedSpec, FileKind
from credit_dw.feeds import schema as feed_schema
from credit_dw.quality.masking import CLEAR_ID_REGEX

# GB 32100 shape: 31-symbol set in positions 1-2 and 9-18, division code digits in 3-8.
USCC_REGEX = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"

CANDIDATE_SCHEMA = "marts_candidate"


@dataclass(frozen=True)
class RawTableRules:
    """What a raw table's rows must satisfy on the night's batches."""

    table: str
    feed: str
    columns: tuple[str, ...]                      # must exist (extra columns are fine)
    required: tuple[str, ...]                     # never null
    uscc_columns: dict[str, float] = field(default_factory=dict)   # column -> mostly
    value_sets: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    no_clear_id: tuple[str, ...] = ()             # published masked: a clear ID here is a leak
    extra: tuple[tuple[str, dict[str, Any]], ...] = ()  # (Expectation class name, kwargs)


# Rules that need a judgement beyond the spec, per raw table: (Expectation class name, kwargs).
_EXTRA: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "tax_rating": (("ExpectColumnValuesToBeBetween",
                    {"column": "rating_year", "min_value": 2000, "max_value": 2100}),),
    "social_insurance_arrears": (("ExpectColumnValuesToBeBetween", {"column": "arrears_cny", "min_value": 0}),),
}
# A feed loading checksum failures with a flag (register anomalies): a night where more than 5 %
# carry it means the register or our check broke.
_WARN_FLAG_MOSTLY = 0.95


def rules_from_spec(spec: FeedSpec, kind: FileKind) -> RawTableRules:
    """The raw rules a file kind's spec implies: columns, required, USCC columns, value sets, leaks.

    The value sets are the spec's enum ``values`` (and field-set constants): defined once, in the
    spec, for the door, the raw table's CHECKs (tested against it) and this gate.
    """
    table = kind.raw_table.removeprefix("raw.")
    flag_columns = dict.fromkeys(f.flag_column for fs in kind.field_sets for f in fs.fields if f.flag_column)
    flags = tuple(("ExpectColumnValuesToBeInSet", {"column": c, "value_set": [False], "mostly": _WARN_FLAG_MOSTLY})
                  for c in flag_columns)
    return RawTableRules(
        table=table,
        feed=spec.feed,
        columns=tuple(feed_schema.raw_columns(kind)),
        required=feed_schema.required_columns(kind),
        uscc_columns={c: 1.0 for c in feed_schema.uscc_columns(kind)},
        value_sets=feed_schema.value_sets(kind),
        no_clear_id=feed_schema.free_text_columns(kind),
        extra=flags + _EXTRA.get(table, ()),
    )


RAW_TABLES: dict[str, RawTableRules] = {
    rules.table: rules
    for rules in (rules_from_spec(spec, kind) for spec, kind in feed_schema.file_kinds().values())
}

# Feed -> raw tables, used when the feed spec (credit_dw.feeds) is not available.
DEFAULT_FEED_TABLES: dict[str, tuple[str, ...]] = {}
for _rules in RAW_TABLES.values():
    DEFAULT_FEED_TABLES.setdefault(_rules.feed, ())
    DEFAULT_FEED_TABLES[_rules.feed] += (_rules.table,)

DEFAULT_MAX_DELIVERY_AGE_DAYS = 3


@dataclass(frozen=True)
class MartRules:
    """What a candidate mart must satisfy before it may be published.

    Column names follow ``dbt_project/models/marts/*.yml``; keep them in step.
    """

    table: str
    key: tuple[str, ...]
    references: tuple[tuple[str, str, str], ...] = ()   # (column, candidate table, its column)
    window: tuple[str, str] | None = None          # (start, end): end not before start
    public_window: bool = False                    # every row public on the as-of date
    value_sets: dict[str, tuple[Any, ...]] = field(default_factory=dict)


RECORD_STATUSES = ("active", "expired", "repaired", "revoked", "removed", "disputed", "corrected", "withdrawn")
_SUBJECT_REF = (("subject_key", "dim_credit_subject", "subject_key"),)

MART_TABLES: dict[str, MartRules] = {
    m.table: m
    for m in (
        MartRules("dim_credit_subject", key=("subject_key",)),
        MartRules(
            "fct_credit_record",
            key=("record_id",),
            references=_SUBJECT_REF,          # null subject_key = unresolved, allowed
            window=("publicity_start", "publicity_end"),
            value_sets={"status": RECORD_STATUSES},
        ),
        MartRules("subject_credit_profile", key=("subject_key",), references=_SUBJECT_REF),
        MartRules(
            "public_disclosure",
            key=("record_id",),
            references=(("record_id", "fct_credit_record", "record_id"),),
            window=("publicity_start", "publicity_end"),
            public_window=True,
            value_sets={"status": ("active", "disputed", "corrected")},
        ),
        MartRules(
            "joint_discipline_list",
            key=("record_id",),                # a subject with two listings has two rows
            references=(*_SUBJECT_REF, ("record_id", "fct_credit_record", "record_id")),
        ),
    )
}

# Mart column holding the as-of date the mart was built for (dbt var); the window check uses it
# unless the caller names an as-of date.
AS_OF_COLUMN = "disclosed_as_of"

# Organisation identifiers that legitimately are 15 or 18 digits (registration numbers, all-digit
# USCCs of public institutions); they are checked as identifiers, not as personal-ID leaks.
# subject_key is a USCC or a 64-hex HMAC, never a clear number.
NO_CLEAR_ID = "no text column holds a clear ID number"  # the leak check's description (gate finds it)
ID_LEAK_EXEMPT_COLUMNS = re.compile(r"(^|_)(uscc|registration_number|organisation_code|subject_key)$")


def _expectation(name: str, **kwargs: Any) -> Any:
    import great_expectations.expectations as gxe

    return getattr(gxe, name)(**kwargs)


def raw_table_suite(rules: RawTableRules) -> Any:
    """Suite ``raw_<table>`` for the night's rows of one raw table."""
    import great_expectations as gx

    exps = [_expectation("ExpectTableColumnsToMatchSet", column_set=list(rules.columns), exact_match=False)]
    exps += [_expectation("ExpectColumnValuesToNotBeNull", column=c) for c in rules.required]
    exps += [
        _expectation("ExpectColumnValuesToMatchRegex", column=c, regex=USCC_REGEX, mostly=mostly)
        for c, mostly in rules.uscc_columns.items()
    ]
    exps += [
        _expectation("ExpectColumnValuesToBeInSet", column=c, value_set=list(values))
        for c, values in rules.value_sets.items()
    ]
    if rules.no_clear_id:
        exps.append(no_clear_id_expectation(rules.no_clear_id, ("batch_id", "source_row")))
    exps += [_expectation(name, **kwargs) for name, kwargs in rules.extra]
    return gx.ExpectationSuite(name=f"raw_{rules.table}", expectations=exps)


def delivery_suite(table: str) -> Any:
    """Suite ``delivery_<table>`` on tonight's deliveries into ``raw.<table>`` (from the manifest).

    Rows loaded per delivery must lie within the bounds derived from the trailing median
    (parameters ``<table>_min_rows``/``_max_rows``); freshness (``age_days`` of the newest
    delivery) is a warning: a late department must not stop the other feeds being published.
    """
    import great_expectations as gx

    return gx.ExpectationSuite(
        name=f"delivery_{table}",
        expectations=[
            _expectation(
                "ExpectColumnValuesToBeBetween",
                column="rows_loaded",
                min_value={"$PARAMETER": f"{table}_min_rows"},
                max_value={"$PARAMETER": f"{table}_max_rows"},
            ),
            _expectation(
                "ExpectColumnMinToBeBetween",
                column="age_days",
                max_value={"$PARAMETER": f"{table}_max_age_days"},
                severity="warning",
            ),
        ],
    )


def rejection_suite(table: str) -> Any:
    """Suite ``rejects_<table>``: the share of tonight's rows the ingestion quarantined.

    Why a gate and not only a report line: rows that fail validation never reach ``raw``, so
    every suite on the raw rows passes however many of them were rejected; a delivery with 40 %
    of its rows quarantined would be published as if it were complete. Bounds come from the feed
    spec's ``rejection_bounds`` (parameters ``<table>_max_file_share`` and
    ``<table>_max_night_share``); ``file_rejected_share`` is NULL (not judged) for files below the
    spec's ``min_rows``.
    """
    import great_expectations as gx

    return gx.ExpectationSuite(
        name=f"rejects_{table}",
        expectations=[
            _expectation(
                "ExpectColumnValuesToBeBetween",
                column="file_rejected_share",
                min_value=0,
                max_value={"$PARAMETER": f"{table}_max_file_share"},
                description="share of a file's rows quarantined at ingestion",
            ),
            _expectation(
                "ExpectColumnValuesToBeBetween",
                column="night_rejected_share",
                min_value=0,
                max_value={"$PARAMETER": f"{table}_max_night_share"},
                description="share of a night's rows quarantined at ingestion",
            ),
        ],
    )


def mart_suite(rules: MartRules | None, table: str, columns: dict[str, bool], as_of: date | None,
               unique_key: tuple[str, ...] = ()) -> Any:
    """Suite ``mart_<table>``: keys, references, windows, statuses, and no clear ID numbers.

    ``columns`` maps the candidate table's columns to "is text"; ``as_of`` None means the
    mart's own as-of date, ``max(disclosed_as_of)`` (or today when it has none). ``unique_key``
    (the table's unique index) names a failing row where the mart has no rules of its own.
    """
    import great_expectations as gx

    exps: list[Any] = []
    if rules is not None:
        exps += [_expectation("ExpectColumnToExist", column=c) for c in rules.key]
        exps += [_expectation("ExpectColumnValuesToNotBeNull", column=c) for c in rules.key]
        if len(rules.key) == 1:
            exps.append(_expectation("ExpectColumnValuesToBeUnique", column=rules.key[0]))
        else:
            exps.append(_expectation("ExpectCompoundColumnsToBeUnique", column_list=list(rules.key)))
        for column, other, other_column in rules.references:
            exps.append(_expectation(
                "UnexpectedRowsExpectation",
                description=f"every {column} exists in {other}",
                unexpected_rows_query=(
                    f"select * from (select * from {{batch}}) b where b.{column} is not null"
                    f" and not exists (select 1 from {CANDIDATE_SCHEMA}.{other} o"
                    f" where o.{other_column} = b.{column})"
                ),
            ))
        if rules.window:
            start, end = rules.window
            exps.append(_expectation(
                "UnexpectedRowsExpectation",
                description=f"{end} is not before {start}",
                unexpected_rows_query=f"select * from {{batch}} where {end} < {start}",
            ))
            if rules.public_window:
                if as_of is not None:
                    on, label = f"date '{as_of.isoformat()}'", as_of.isoformat()
                elif AS_OF_COLUMN in columns:
                    # the table's as-of date: incremental marts keep the date each row was last
                    # evaluated for, and every row must hold on the latest one
                    on, label = f"(select max({AS_OF_COLUMN}) from {{batch}})", f"max({AS_OF_COLUMN})"
                else:
                    on, label = "current_date", "current_date"
                exps.append(_expectation(
                    "UnexpectedRowsExpectation",
                    description=f"every row is inside its publicity window on {label}",
                    unexpected_rows_query=f"select * from {{batch}} where {end} < {on} or {start} > {on}",
                ))
        exps += [
            _expectation("ExpectColumnValuesToBeInSet", column=c, value_set=list(values))
            for c, values in rules.value_sets.items()
        ]
    texts = [c for c, is_text in columns.items() if is_text]
    exempt = [c for c in texts if ID_LEAK_EXEMPT_COLUMNS.search(c)]
    checked = [c for c in texts if c not in exempt]
    if checked:
        exps.append(no_clear_id_expectation(checked, rules.key if rules is not None else unique_key, exempt))
    return gx.ExpectationSuite(name=f"mart_{table}", expectations=exps)


def no_clear_id_expectation(columns: tuple[str, ...] | list[str], locator: tuple[str, ...],
                            exempt: tuple[str, ...] | list[str] = ()) -> Any:
    """No clear ID number in any of ``columns``: one scan of the table, not one per column.

    Why not GX's ``ExpectColumnValuesToNotMatchRegex`` per column: each is a separate pass (and
    several queries) over the whole table with a regex per value; the marts have ~25 text
    columns, so the nightly marts gate grew with columns × rows (300k rows × 25 columns: 28.9 s,
    this check 5.1 s, ``benchmarks/leak_check.py``). Here the columns are joined with a space
    (a boundary for the pattern, as the start and end of a value are) and matched once per row;
    only the rows that match are looked at column by column.

    The row's own organisation identifiers (``exempt``: its USCC, registration number, subject
    key) are taken out of the text before matching. A steward's message quoting the row's
    all-digit USCC or 15-digit registration number (``register_anomalies.detail``, the
    ``subject:<key>`` scope) is not a leak: those values are published in their own columns. The
    pattern alone cannot tell them from an ID number: at a tenth of the province (2M registered
    subjects) 1,864 such rows failed the gate, so no night would ever have been published.

    The unexpected rows name the row (``locator``: the table's key, masked like every sample)
    and the columns holding an ID, never the value: a steward finds the leak without the report
    repeating it. A table without a key is named by its columns only (GX hands the check the
    table as a subquery, which has no ``ctid``).
    """
    pattern = "'" + CLEAR_ID_REGEX.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"

    def without_identifiers(text: str) -> str:
        # only values of an ID's length: stripping a shorter one (a 9-character organisation
        # code) could cut a real ID number in two and hide it; a space keeps the boundaries
        for c in exempt:
            text = f"replace({text}, coalesce(case when char_length(\"{c}\") in (15, 18) then \"{c}\" end, ''), ' ')"
        return text

    quoted = [f'"{c}"' for c in columns]
    which = ", ".join(
        f"case when {without_identifiers(q)} ~ {pattern} then '{c}' end" for q, c in zip(quoted, columns, strict=True)
    )
    joined = without_identifiers(f"concat_ws(' ', {', '.join(quoted)})")
    row = "".join(f'"{c}", ' for c in locator)
    return _expectation(
        "UnexpectedRowsExpectation",
        description=f"{NO_CLEAR_ID} (columns: {', '.join(columns)})",
        unexpected_rows_query=(
            f"select {row}array_to_string(array_remove(array[{which}], null), ', ') as columns_with_clear_id"
            f" from {{batch}} where {joined} ~ {pattern}"
        ),
    )
