"""The expectation suites, as code: the one source of truth, reviewed in version control.

Why code and not JSON files: several suites depend on the warehouse itself (the mart ID-leak
check covers every text column of every candidate table, found in the catalogue at run time)
or on the night (row-count bounds from the trailing median, the as-of date of publicity
windows). Code builds them from the small rule tables below; GX's JSON under
``expectations/gx/expectations/`` is a generated copy (git-ignored) that Data Docs render.

Run-time numbers enter as GX suite parameters (``{"$PARAMETER": name}``), so the stored suite
shows which parameter a bound came from and the validation result shows its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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


_LINEAGE = ("batch_id", "source_file", "source_row")

RAW_TABLES: dict[str, RawTableRules] = {
    r.table: r
    for r in (
        RawTableRules(
            table="registration",
            feed="registration",
            columns=("uscc", "uscc_check_failed", "name", "subject_type", "status", "updated_at", *_LINEAGE),
            required=("uscc", "name", "subject_type", "status", "updated_at"),
            # Register anomalies (failing check character) pass row parsing with a flag; a night
            # where more than 5% carry it means the register or our check broke.
            uscc_columns={"uscc": 1.0},
            value_sets={
                "subject_type": ("企业", "个体工商户", "农民专业合作社", "社会组织", "事业单位", "机关"),
                "status": ("存续", "在业", "吊销", "注销", "迁出"),
            },
            no_clear_id=("legal_representative",),
            extra=(("ExpectColumnValuesToBeInSet",
                    {"column": "uscc_check_failed", "value_set": [False], "mostly": 0.95}),),
        ),
        RawTableRules(
            table="penalty",
            feed="penalty",
            columns=("authority_code", "decision_number", "operation", "field_set", "party_name",
                     "party_uscc", "decided_on", *_LINEAGE),
            required=("authority_code", "decision_number", "operation", "party_name", "decided_on"),
            uscc_columns={"party_uscc": 1.0},
            value_sets={"operation": ("I", "U", "D"), "field_set": ("current", "legacy")},
            no_clear_id=("legal_rep_id_masked", "party_id_masked", "party_name", "facts"),
        ),
        RawTableRules(
            table="judicial_listing",
            feed="judicial",
            columns=("case_code", "party_key", "list_type", "party_name", "card_num", "party_type",
                     "first_seen_on", "last_seen_on", *_LINEAGE),
            required=("case_code", "party_key", "list_type", "party_name", "party_type", "first_seen_on"),
            uscc_columns={"party_uscc": 1.0},
            value_sets={"list_type": ("dishonest", "restricted"), "party_type": ("法人", "自然人")},
            # Not card_num: it holds the USCC of organisations, and an all-digit USCC matches the
            # ID-number pattern; for persons the door masks any clear ID (uscc_or_person_id), and
            # the mart gate checks every published column.
            no_clear_id=("party_name", "legal_representative"),
        ),
        RawTableRules(
            table="tax_violation",
            feed="tax",
            columns=("authority_code", "decision_number", "taxpayer_number", "name", "published_on",
                     "status", *_LINEAGE),
            required=("authority_code", "decision_number", "taxpayer_number", "name", "published_on",
                      "status"),
            uscc_columns={"taxpayer_uscc": 1.0},
            value_sets={"status": ("公布中", "已撤出")},
            no_clear_id=("legal_rep_id_masked",),
        ),
        RawTableRules(
            table="tax_rating",
            feed="tax",
            columns=("taxpayer_number", "name", "rating_year", "rating_level", *_LINEAGE),
            required=("taxpayer_number", "name", "rating_year", "rating_level"),
            uscc_columns={"taxpayer_uscc": 1.0},
            value_sets={"rating_level": ("A", "B", "M", "C", "D")},
            extra=(("ExpectColumnValuesToBeBetween",
                    {"column": "rating_year", "min_value": 2000, "max_value": 2100}),),
        ),
        RawTableRules(
            table="social_insurance_arrears",
            feed="social_insurance",
            columns=("unit_name", "uscc", "insurance_type", "arrears_cny", "document_type",
                     "document_number", "department_code", "decided_on", "status", *_LINEAGE),
            required=("unit_name", "uscc", "insurance_type", "arrears_cny", "document_number",
                      "department_code", "decided_on", "status"),
            uscc_columns={"uscc": 1.0},
            value_sets={
                "insurance_type": ("企业职工基本养老保险", "失业保险", "工伤保险", "职工基本医疗保险",
                                   "住房公积金"),
                "document_type": ("限期缴纳通知", "行政处罚决定", "严重失信名单认定"),
                "status": ("欠缴", "已补缴", "已撤销"),
            },
            extra=(("ExpectColumnValuesToBeBetween", {"column": "arrears_cny", "min_value": 0}),),
        ),
    )
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
    exps += [
        _expectation("ExpectColumnValuesToNotMatchRegex", column=c, regex=CLEAR_ID_REGEX)
        for c in rules.no_clear_id
    ]
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


def mart_suite(rules: MartRules | None, table: str, columns: dict[str, bool], as_of: date | None) -> Any:
    """Suite ``mart_<table>``: keys, references, windows, statuses, and no clear ID numbers.

    ``columns`` maps the candidate table's columns to "is text"; ``as_of`` None means the
    mart's own as-of date, ``max(disclosed_as_of)`` (or today when it has none).
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
    exps += [
        _expectation("ExpectColumnValuesToNotMatchRegex", column=c, regex=CLEAR_ID_REGEX)
        for c, is_text in columns.items()
        if is_text and not ID_LEAK_EXEMPT_COLUMNS.search(c)
    ]
    return gx.ExpectationSuite(name=f"mart_{table}", expectations=exps)
