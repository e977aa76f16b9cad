"""Feed specifications: one YAML file per feed, read into frozen dataclasses.

Why data and not code: a feed is described once (files, encoding, field sets, validators, keys,
change semantics, count bounds) and every consumer reads the same description: the ingest
package validates and loads with it, the DAG factory schedules from it, the quality suites take
their count bounds from it. Adding a feed means adding a YAML file, not copying a parser.

Top-level keys the DAG factory relies on: ``feed``, ``description``, ``schedule``,
``raw_tables``, ``done_timeout_hours``. When a deployment starts scheduling is configuration, not
part of a feed (``CREDIT_DW_START_DATE``, see ``credit_dw.config.start_date``). The rest is documented in
``docs/feeds.md``. The loader is strict: an unknown key is an error, so a typo in a spec fails
loudly in tests instead of silently dropping a validator.
"""

from __future__ import annotations

import csv
import fnmatch
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).parent

FIELD_TYPES = frozenset(
    {"text", "date", "timestamp", "amount_wan", "amount_cny", "int", "enum", "enum_list",
     "year_month", "identifier", "person_id"}
)
VALIDATORS = frozenset(
    {"uscc", "org_code", "registration_number", "resident_id", "taxpayer_number", "uscc_or_person_id"}
)
CHANGE_SEMANTICS = frozenset({"delta_latest_wins", "operation_column", "daily_snapshot"})
FORMATS = frozenset({"csv", "jsonl", "xlsx"})
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")


class SpecError(ValueError):
    """A feed spec file is inconsistent; the message names the file and the key."""


@dataclass(frozen=True)
class Derivation:
    """A second column computed from one source value: a value map or a lookup table."""

    column: str
    value_map: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    lookup: str | None = None           # name of a lookup table in the spec's ``lookups``
    reason: str = "UNKNOWN_AUTHORITY"   # reason code when the lookup has no entry


@dataclass(frozen=True)
class FieldSpec:
    """How one source field becomes (part of) a raw column."""

    source: str
    column: str | None
    type: str = "text"
    required: bool = False
    validator: str | None = None
    values: tuple[str, ...] = ()                 # enum / enum_list
    value_map: dict[str, str] = field(default_factory=dict)  # variant spellings → canonical value
    separator: str = ";"                         # enum_list
    open_ended: tuple[str, ...] = ()             # date values meaning "no end" → NULL
    on_check_failure: str = "reject"             # uscc: reject | warn (register anomaly)
    flag_column: str | None = None               # uscc warn: boolean column set true
    id_type_field: str | None = None             # person_id: source field carrying the ID type
    id_type: str | None = None                   # person_id: fixed ID type when no field says
    hash_column: str | None = None               # person_id: HMAC column
    masked_column: str | None = None             # person_id: masked display column
    type_column: str | None = None               # person_id: column receiving the fixed id_type
    uscc_column: str | None = None               # taxpayer_number / uscc_or_person_id: USCC if any
    derive: tuple[Derivation, ...] = ()
    not_after_delivery: bool = False             # date: a value after the delivery date is rejected
    party_type_field: str | None = None          # identifier: source field saying person or organisation
    person_types: tuple[str, ...] = ()           # values of party_type_field meaning a natural person
    authoritative: bool = False                  # uscc: the register's own code, a USCC by definition
    sql_type: str | None = None                  # raw column type when not the type's default


@dataclass(frozen=True)
class FieldSet:
    """One header layout of a file kind (e.g. penalty ``current`` and ``legacy``)."""

    name: str
    fields: tuple[FieldSpec, ...]
    ignored: frozenset[str] = frozenset()
    constants: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> frozenset[str]:
        """The required source fields: a header carrying all of them is this field set."""
        return frozenset(f.source for f in self.fields if f.required)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(f.source for f in self.fields) | self.ignored


@dataclass(frozen=True)
class CountBounds:
    """Row-count expectations per delivery, read by the ingest report and the GX feed suites."""

    min_rows: int = 1
    max_rows: int | None = None
    min_ratio_to_median: float = 0.5
    max_ratio_to_median: float = 3.0
    trailing_deliveries: int = 7
    # The ratio needs a settled history: the first deliveries of a delta feed (an initial
    # master list, then small deltas) differ by design, so until this many earlier deliveries
    # exist only the absolute min_rows / max_rows apply.
    min_history: int = 3


@dataclass(frozen=True)
class RejectionBounds:
    """The largest share of a delivery's rows that may be quarantined before the build blocks.

    A file with 40 % of its rows rejected is a broken delivery even though every row that did
    load is valid: publishing the rest would silently drop the department's records. Checked by
    the build's feed gate per file and per night (all of tonight's files of one raw table);
    files smaller than ``min_rows`` are judged only as part of the night, where a couple of
    planted defects in a 20-row file would otherwise read as a 10 % failure.
    """

    max_share_per_file: float = 0.05
    max_share_per_night: float = 0.05
    min_rows: int = 50


@dataclass(frozen=True)
class FileKind:
    """One kind of file in a delivery: how to find it, read it and where it goes."""

    name: str
    pattern: str
    raw_table: str
    format: str
    encoding: tuple[str, ...]       # candidates; one entry = fixed, several = detect among them
    field_sets: tuple[FieldSet, ...]
    natural_key: tuple[str, ...]
    change_semantics: str
    count_bounds: CountBounds
    derived: tuple[str, ...] = ()   # named row hooks in credit_dw.ingest.derive
    sheet: int = 0                  # xlsx: sheet index
    record_key: tuple[str, ...] = ()   # columns of one credit record across deliveries (default natural_key)
    description: str = ""           # what the raw table holds (dbt source docs)

    def matches(self, filename: str) -> bool:
        return fnmatch.fnmatchcase(filename, self.pattern)

    def field_set(self, name: str) -> FieldSet:
        return next(fs for fs in self.field_sets if fs.name == name)


@dataclass(frozen=True)
class FeedSpec:
    feed: str
    description: str
    schedule: str
    raw_tables: tuple[str, ...]
    done_timeout_hours: float
    files: tuple[FileKind, ...]
    count_bounds: CountBounds
    lookups: dict[str, dict[str, str]]
    path: Path
    rejection_bounds: RejectionBounds = RejectionBounds()
    freshness: dict[str, Any] = field(default_factory=dict)   # dbt source freshness of the deliveries

    def kind_for(self, filename: str) -> FileKind | None:
        return next((k for k in self.files if k.matches(filename)), None)

    def count_bounds_for(self, raw_table: str) -> CountBounds:
        """Bounds of the file kind loading ``raw_table`` (falls back to the feed's)."""
        kind = next((k for k in self.files if k.raw_table == raw_table), None)
        return kind.count_bounds if kind else self.count_bounds


def canonical_header(name: str) -> str:
    """Header names compare after NFKC and trimming: ``欠缴金额（元）`` equals ``欠缴金额(元)``."""
    return unicodedata.normalize("NFKC", name).strip()


@cache
def load_spec(name: str) -> FeedSpec:
    """The spec of feed ``name`` (``plugins/credit_dw/feeds/<name>.yaml``), parsed once per process."""
    path = SPEC_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in SPEC_DIR.glob("*.yaml")))
        raise SpecError(f"No feed spec {path.name} in {SPEC_DIR} (known feeds: {known}).")
    return _parse(path, yaml.safe_load(path.read_text(encoding="utf-8")))


def all_specs() -> list[FeedSpec]:
    return [load_spec(p.stem) for p in sorted(SPEC_DIR.glob("*.yaml"))]


def load_lookup(filename: str, key: str, value: str) -> dict[str, str]:
    """A two-column mapping from a CSV beside the specs (keys canonicalised like header names)."""
    with (SPEC_DIR / filename).open(encoding="utf-8", newline="") as fh:
        return {canonical_header(row[key]): row[value].strip() for row in csv.DictReader(fh)}


# --- parsing -------------------------------------------------------------------------------------

_TOP_KEYS = {"feed", "description", "schedule", "raw_tables", "done_timeout_hours",
             "format", "encoding", "count_bounds", "rejection_bounds", "lookups", "files", "freshness"}
_KIND_KEYS = {"kind", "pattern", "raw_table", "format", "encoding", "field_sets", "natural_key",
              "change_semantics", "count_bounds", "derived", "sheet", "record_key", "description"}
_SET_KEYS = {"name", "fields", "ignored", "constants"}
_FIELD_KEYS = {"column", "type", "required", "validator", "values", "map", "separator", "open_ended",
               "on_check_failure", "flag_column", "id_type_field", "id_type", "hash_column",
               "masked_column", "type_column", "uscc_column", "derive", "not_after_delivery",
               "party_type_field", "person_types", "authoritative", "sql_type"}


# A daily feed: warn after a day and a half without a loaded file, error after three days.
_DEFAULT_FRESHNESS = {"warn_after": {"count": 36, "period": "hour"}, "error_after": {"count": 72, "period": "hour"}}


def _check_keys(where: str, data: dict, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _parse(path: Path, data: dict) -> FeedSpec:
    where = path.name
    if "start_date" in data:
        raise SpecError(f"{where}: start_date is no longer part of a feed spec; the first night a "
                        "deployment schedules comes from CREDIT_DW_START_DATE. Remove the key.")
    _check_keys(where, data, _TOP_KEYS)
    lookups = {
        name: load_lookup(conf["file"], conf["key"], conf["value"])
        for name, conf in (data.get("lookups") or {}).items()
    }
    bounds = _bounds(data.get("count_bounds") or {})
    files = tuple(_kind(f"{where} files[{i}]", k, data, bounds, lookups)
                  for i, k in enumerate(data["files"]))
    raw_tables = tuple(data["raw_tables"])
    missing = {k.raw_table for k in files} - set(raw_tables)
    if missing:
        raise SpecError(f"{where}: file kinds load {sorted(missing)} but raw_tables does not list them")
    if data["feed"] != path.stem:
        raise SpecError(f"{where}: feed is {data['feed']!r}; it must equal the file name")
    return FeedSpec(
        feed=data["feed"],
        description=" ".join(str(data["description"]).split()),
        schedule=str(data["schedule"]),
        raw_tables=raw_tables,
        done_timeout_hours=float(data["done_timeout_hours"]),
        files=files,
        count_bounds=bounds,
        lookups=lookups,
        path=path,
        rejection_bounds=_rejection_bounds(where, data.get("rejection_bounds") or {}),
        freshness=dict(data.get("freshness") or _DEFAULT_FRESHNESS),
    )


def _rejection_bounds(where: str, data: dict) -> RejectionBounds:
    _check_keys(f"{where} rejection_bounds", data, set(RejectionBounds.__dataclass_fields__))
    bounds = RejectionBounds(**data)
    for name in ("max_share_per_file", "max_share_per_night"):
        if not 0 <= getattr(bounds, name) <= 1:
            raise SpecError(f"{where}: rejection_bounds.{name} must be a share between 0 and 1")
    return bounds


def _bounds(data: dict, base: CountBounds | None = None) -> CountBounds:
    merged = {**(base.__dict__ if base else {}), **data}
    return CountBounds(**merged)


def _kind(where: str, data: dict, top: dict, bounds: CountBounds, lookups: dict) -> FileKind:
    _check_keys(where, data, _KIND_KEYS)
    fmt = data.get("format", top.get("format"))
    if fmt not in FORMATS:
        raise SpecError(f"{where}: format {fmt!r} not one of {sorted(FORMATS)}")
    encoding = data.get("encoding", top.get("encoding", "utf-8"))
    encoding = (encoding,) if isinstance(encoding, str) else tuple(encoding)
    if fmt == "csv" and not set(encoding) <= set(ENCODINGS):
        raise SpecError(f"{where}: encoding {encoding} must be among {ENCODINGS}")
    semantics = data["change_semantics"]
    if semantics not in CHANGE_SEMANTICS:
        raise SpecError(f"{where}: change_semantics {semantics!r} not one of {sorted(CHANGE_SEMANTICS)}")
    sets = tuple(_field_set(f"{where} field_sets[{i}]", fs, lookups)
                 for i, fs in enumerate(data["field_sets"]))
    return FileKind(
        name=data["kind"],
        pattern=data["pattern"],
        raw_table=data["raw_table"],
        format=fmt,
        encoding=encoding,
        field_sets=sets,
        natural_key=tuple(data["natural_key"]),
        change_semantics=semantics,
        count_bounds=_bounds(data.get("count_bounds") or {}, bounds),
        derived=tuple(data.get("derived") or ()),
        sheet=int(data.get("sheet", 0)),
        record_key=tuple(data.get("record_key") or data["natural_key"]),
        description=" ".join(str(data.get("description") or "").split()),
    )


def _field_set(where: str, data: dict, lookups: dict) -> FieldSet:
    _check_keys(where, data, _SET_KEYS)
    fields = tuple(_field(f"{where} {src}", src, conf or {}, lookups)
                   for src, conf in data["fields"].items())
    if not any(f.required for f in fields):
        raise SpecError(f"{where}: at least one field must be required (the header signature)")
    return FieldSet(
        name=data["name"],
        fields=fields,
        ignored=frozenset(data.get("ignored") or ()),
        constants=dict(data.get("constants") or {}),
    )


def _field(where: str, source: str, data: dict, lookups: dict) -> FieldSpec:
    _check_keys(where, data, _FIELD_KEYS)
    ftype = data.get("type", "text")
    if ftype not in FIELD_TYPES:
        raise SpecError(f"{where}: type {ftype!r} not one of {sorted(FIELD_TYPES)}")
    validator = data.get("validator")
    if validator is not None and validator not in VALIDATORS:
        raise SpecError(f"{where}: validator {validator!r} not one of {sorted(VALIDATORS)}")
    if ftype in ("enum", "enum_list") and not data.get("values"):
        raise SpecError(f"{where}: an {ftype} needs values")
    derive = []
    for d in data.get("derive") or ():
        if d.get("lookup") and d["lookup"] not in lookups:
            raise SpecError(f"{where}: lookup {d['lookup']!r} is not declared under lookups")
        derive.append(Derivation(column=d["column"], value_map={str(k): str(v) for k, v in
                                                                 (d.get("map") or {}).items()},
                                 default=d.get("default"), lookup=d.get("lookup"),
                                 reason=d.get("reason", "UNKNOWN_AUTHORITY")))
    return FieldSpec(
        source=source,
        column=data.get("column"),
        type=ftype,
        required=bool(data.get("required", False)),
        validator=validator,
        values=tuple(str(v) for v in data.get("values") or ()),
        value_map={str(k): str(v) for k, v in (data.get("map") or {}).items()},
        separator=data.get("separator", ";"),
        open_ended=tuple(str(v) for v in data.get("open_ended") or ()),
        on_check_failure=data.get("on_check_failure", "reject"),
        flag_column=data.get("flag_column"),
        id_type_field=data.get("id_type_field"),
        id_type=data.get("id_type"),
        hash_column=data.get("hash_column"),
        masked_column=data.get("masked_column"),
        type_column=data.get("type_column"),
        uscc_column=data.get("uscc_column"),
        derive=tuple(derive),
        not_after_delivery=bool(data.get("not_after_delivery", False)),
        party_type_field=data.get("party_type_field"),
        person_types=tuple(str(v) for v in data.get("person_types") or ()),
        authoritative=bool(data.get("authoritative", False)),
        sql_type=data.get("sql_type"),
    )
