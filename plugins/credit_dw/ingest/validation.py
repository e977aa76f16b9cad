"""Validation and normalisation at the door: one source record → raw column values or issues.

Everything the spec says about a field happens here, once: trimming and full-width folding,
identifier checks against the standards (``credit_dw.identifiers``), dates, exact amounts,
enumerations, lookups, and pseudonymisation of personal ID numbers (Art. 8: the clear number
leaves this module only towards ``restricted.person_identity``). A record with any error is
quarantined whole, with every problem listed, so a steward fixes a record in one round trip.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from credit_dw import identifiers as ids
from credit_dw.feeds import FieldSet, FieldSpec, FileKind, canonical_header
from credit_dw.ingest import derive, reasons, values
from credit_dw.ingest.readers import Record
from credit_dw.ingest.reasons import Issue

_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


@dataclass
class RowOutcome:
    source_row: int
    raw: str
    values: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    persons: list[tuple[str, str, str | None, str]] = field(default_factory=list)  # hash, number, type, masked

    @property
    def rejected(self) -> bool:
        return any(not i.warning for i in self.issues)

    @property
    def warned(self) -> bool:
        return any(i.warning for i in self.issues)

    @property
    def reason_codes(self) -> list[str]:
        return sorted({i.code for i in self.issues if not i.warning})

    def message(self, file_label: str) -> str:
        problems = [i for i in self.issues if not i.warning] or self.issues
        return f"{file_label} row {self.source_row}: " + " | ".join(i.message for i in problems)


def mask_personal_ids(text: str) -> str:
    """Mask every resident-ID-like number in text: 18-character (GB 11643) and 15-digit old-style.

    Applied to free-text fields of every feed, to identifiers without a validator, to quarantined
    records and to every message; numbers that only look like IDs (a plausible birth date) are
    masked too: over-masking is the safe side of Art. 8.
    """
    return _ID_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    code = match.group().upper()
    if ids.looks_like_resident_id(code) or ids.looks_like_old_resident_id(code):
        return ids.mask_id(code)
    return match.group()


class RowValidator:
    """Validates the records of one file against one field set of a file kind."""

    def __init__(self, kind: FileKind, field_set: FieldSet, lookups: dict[str, dict[str, str]],
                 pii_key: bytes, *, delivery_date: date | None = None,
                 known_uscc: Callable[[str], bool] | None = None):
        """``known_uscc`` answers "is this code in the registration register?" for the rare codes
        that are both a valid USCC and a valid resident ID (see ``_is_person``)."""
        self.delivery_date = delivery_date
        self.known_uscc = known_uscc
        self.kind = kind
        self.field_set = field_set
        self.lookups = lookups
        self.pii_key = pii_key
        self.drift: set[str] = set()
        self._known = {canonical_header(s) for s in field_set.known}
        self._fields = [(spec, canonical_header(spec.source)) for spec in field_set.fields]
        self._hooks = [derive.HOOKS[name] for name in kind.derived]

    def validate(self, record: Record) -> RowOutcome:
        out = RowOutcome(record.source_row, record.raw)
        if record.issue is not None:
            out.issues.append(record.issue)
            return out
        assert record.values is not None
        self.drift.update(k for k in record.values if k not in self._known)
        out.values.update(self.field_set.constants)
        for spec, source_name in self._fields:
            self._field(spec, source_name, record.values, out)
        if not out.rejected:
            for hook in self._hooks:
                hook(out.values, self.pii_key)
        return out

    # --- one field ---------------------------------------------------------------------------

    def _field(self, spec: FieldSpec, source_name: str, source: dict[str, Any], out: RowOutcome) -> None:
        if spec.flag_column:
            out.values.setdefault(spec.flag_column, False)
        text = _clean(source.get(source_name))
        if spec.type == "enum_list" and spec.column:
            out.values.setdefault(spec.column, [])
        if text is None:
            if spec.required:
                out.issues.append(Issue(reasons.MISSING_REQUIRED, spec.source,
                                        f"required field {spec.source} is empty; the department must fill it"))
            for d in spec.derive:
                if d.default is not None and d.lookup is None:
                    out.values[d.column] = d.default
            return
        handler = _HANDLERS[spec.type]
        try:
            value = handler(self, spec, text, source, out)
        except _Invalid as bad:
            shown = ids.mask_id(text) if spec.type == "person_id" else mask_personal_ids(text)
            out.issues.append(Issue(bad.code, spec.source,
                                    f"field {spec.source} = {shown!r}: {bad.reason}"))
            return
        if spec.column:
            if spec.type == "enum_list":
                out.values[spec.column] = out.values[spec.column] + value
            else:
                out.values[spec.column] = value
        for d in spec.derive:
            key = value if isinstance(value, str) else text
            if d.lookup:
                found = self.lookups[d.lookup].get(canonical_header(key))
                if found is None:
                    out.issues.append(Issue(d.reason, spec.source, (
                        f"field {spec.source} = {key!r} is not in the {d.lookup} directory; add it to "
                        f"plugins/credit_dw/feeds/ ({d.lookup}) or ask the department for the code")))
                out.values[d.column] = found
            else:
                out.values[d.column] = d.value_map.get(key, d.default)

    def _text(self, spec: FieldSpec, text: str, *_: Any) -> str:
        return mask_personal_ids(text)

    def _enum(self, spec: FieldSpec, text: str, *_: Any) -> str:
        text = unicodedata.normalize("NFKC", text).strip()
        value = spec.value_map.get(text, text)
        if value not in spec.values:
            raise _Invalid(reasons.UNKNOWN_ENUM, f"not one of {', '.join(spec.values)}; "
                           "map the variant in the feed spec or ask the department to correct it")
        return value

    def _enum_list(self, spec: FieldSpec, text: str, *_: Any) -> list[str]:
        items = [i.strip() for i in unicodedata.normalize("NFKC", text).split(spec.separator)]
        result = [spec.value_map.get(i, i) for i in items if i]
        unknown = [i for i in result if i not in spec.values]
        if unknown:
            raise _Invalid(reasons.UNKNOWN_ENUM, f"{', '.join(unknown)} not among {', '.join(spec.values)}; "
                           "map the variant in the feed spec or ask the department to correct it")
        return result

    def _date(self, spec: FieldSpec, text: str, *_: Any) -> Any:
        try:
            parsed = values.parse_date(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            raise _Invalid(reasons.INVALID_DATE, f"{exc}; correct the date") from exc
        if spec.not_after_delivery and self.delivery_date is not None and parsed > self.delivery_date:
            raise _Invalid(reasons.DATE_AFTER_DELIVERY,
                           f"{parsed.isoformat()} is after the delivery date {self.delivery_date.isoformat()}; "
                           "a decision cannot postdate its delivery: the department must correct the date")
        return None if parsed.isoformat() in spec.open_ended else parsed

    def _timestamp(self, spec: FieldSpec, text: str, *_: Any) -> Any:
        try:
            return values.parse_timestamp(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            raise _Invalid(reasons.INVALID_TIMESTAMP,
                           "expected a date-time like 2026-11-01 08:30:00; correct it") from exc

    def _year_month(self, spec: FieldSpec, text: str, *_: Any) -> Any:
        try:
            return values.parse_year_month(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            raise _Invalid(reasons.INVALID_YEAR_MONTH, f"{exc}; correct it") from exc

    def _amount(self, spec: FieldSpec, text: str, *_: Any) -> Any:
        parse = values.parse_amount_wan if spec.type == "amount_wan" else values.parse_amount
        unit = "10,000 CNY" if spec.type == "amount_wan" else "CNY"
        try:
            return parse(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            raise _Invalid(reasons.INVALID_AMOUNT, f"{exc} (unit {unit}); correct the amount") from exc

    def _int(self, spec: FieldSpec, text: str, *_: Any) -> int:
        try:
            return values.parse_int(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            raise _Invalid(reasons.INVALID_INTEGER, f"{exc}; correct it") from exc

    def _identifier(self, spec: FieldSpec, text: str, source: dict[str, Any], out: RowOutcome) -> str:
        code = ids.normalise(text)
        check = _VALIDATORS.get(spec.validator or "")
        return check(self, spec, code, source, out) if check else mask_personal_ids(code)

    def _is_person(self, spec: FieldSpec, code: str, source: dict[str, Any]) -> bool:
        """Is an 18-digit code that passes both GB 32100 and GB 11643 a person's ID? Decided by context.

        About 3 % of resident IDs also pass the USCC check, so the checksum alone decides nothing.
        In order: the record's party type (spec ``party_type_field``/``person_types``), membership
        of the registration register (a registered code is an organisation), and the organisation
        code embedded in positions 9-17 (a real USCC carries a valid GB 11714 code; a resident ID
        does so only by chance, 1 in 11).
        """
        if spec.party_type_field:
            party_type = _clean(source.get(canonical_header(spec.party_type_field)))
            if party_type is not None:
                return unicodedata.normalize("NFKC", party_type) in spec.person_types
        if self.known_uscc is not None and self.known_uscc(code):
            return False
        return not ids.embedded_org_code_ok(code)

    def _person_id(self, spec: FieldSpec, text: str, source: dict[str, Any], out: RowOutcome) -> None:
        """Clear number → restricted.person_identity; the raw row gets only HMAC and masked form."""
        number = ids.normalise(text)
        id_type = spec.id_type
        if spec.id_type_field:
            id_type = _clean(source.get(canonical_header(spec.id_type_field))) or id_type
        if spec.type_column:
            out.values[spec.type_column] = id_type
        if ids.is_masked_id(number):
            if spec.masked_column:
                out.values[spec.masked_column] = number
            return None
        claims_resident_id = id_type == "01" or (id_type is None and ids.looks_like_resident_id(number))
        if claims_resident_id and not ids.is_valid_resident_id(number):
            raise _Invalid(reasons.INVALID_RESIDENT_ID,
                           "not a valid resident ID (GB 11643 check failed or wrong length); correct it")
        self._person(spec, number, id_type, out)
        return None

    def _person(self, spec: FieldSpec, number: str, id_type: str | None, out: RowOutcome) -> str:
        digest = ids.pii_hash(number, self.pii_key)
        masked = ids.mask_id(number)
        out.persons.append((digest, number, id_type, masked))
        if spec.hash_column:
            out.values[spec.hash_column] = digest
        if spec.masked_column:
            out.values[spec.masked_column] = masked
        return digest

    # --- identifier validators (value is already normalised) ---------------------------------

    def _uscc(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        if _valid_uscc(code):
            if not spec.authoritative and ids.ambiguous_uscc(code) and self._is_person(spec, code, source):
                raise _Invalid(reasons.PERSON_ID_AS_USCC, (
                    "this is a natural person's resident ID number (by the party type, or absent from the "
                    "register with no valid embedded organisation code), not a credit code; the department "
                    "must deliver it in the person's ID field"))
            return code
        if ids.uscc_shape_ok(code):
            expected = ids.uscc_check_char(code[:17])
            if spec.on_check_failure == "warn":
                if spec.flag_column:
                    out.values[spec.flag_column] = True
                out.issues.append(Issue(reasons.USCC_CHECK_FAILED, spec.source, (
                    f"field {spec.source} = {code!r}: check character should be {expected!r}; loaded as a "
                    "register anomaly (uscc_check_failed) for stewards to confirm"), warning=True))
                return code
            raise _Invalid(reasons.INVALID_USCC, f"GB 32100 check character should be {expected!r}; "
                           "verify the code with the registration register")
        raise _Invalid(reasons.INVALID_USCC, "not 18 symbols of the GB 32100 set (no I, O, S, V, Z; "
                       "positions 3-8 digits); correct the code")

    def _org_code(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        code = ids.normalise_org_code(code)
        if not ids.is_valid_org_code(code):
            raise _Invalid(reasons.INVALID_ORG_CODE, "not a valid GB 11714 organisation code "
                           "(8 symbols + check); correct it")
        return code

    def _registration_number(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        if not ids.is_valid_registration_number(code):
            raise _Invalid(reasons.INVALID_REG_NUMBER, "not a valid 15-digit registration number "
                           "(ISO 7064 MOD 11,10 check); correct it")
        return code

    def _resident_id(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        if ids.is_masked_id(code):
            return code
        if not ids.is_valid_resident_id(code):
            raise _Invalid(reasons.INVALID_RESIDENT_ID, "not a valid resident ID (GB 11643); correct it")
        return self._person(spec, code, "01", out)

    def _taxpayer_number(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        kind = ids.taxpayer_number_kind(code)
        if kind == "uscc" and ids.ambiguous_uscc(code) and self._is_person(spec, code, source):
            kind = "resident_id"
        if kind is None:
            if len(code) == 18 and ids.uscc_shape_ok(code):
                raise _Invalid(reasons.INVALID_USCC, "USCC check character should be "
                               f"{ids.uscc_check_char(code[:17])!r}; verify the code")
            if 17 <= len(code) <= 19:  # one symbol off an 18-symbol code: a mistyped USCC
                raise _Invalid(reasons.INVALID_USCC, "not 18 symbols of the GB 32100 set; correct the code")
            raise _Invalid(reasons.INVALID_TAXPAYER_NUMBER, "neither a USCC nor a legacy 15/18/20-character "
                           "taxpayer number; correct it")
        if kind == "uscc" and spec.uscc_column:
            out.values[spec.uscc_column] = code
        if kind == "resident_id" and len(code) == 20:
            return self._taxpayer_number_20(spec, code, out)
        if kind == "resident_id":  # individual business keyed by a personal ID: keep only the HMAC
            return self._person(spec, code, "01", out)
        return code

    def _taxpayer_number_20(self, spec: FieldSpec, code: str, out: RowOutcome) -> str:
        """An individual business's 20-character number: its owner's resident ID + 2 digits.

        The whole number stays the record's key (an owner may run several businesses), pseudonymised
        like an ID, the clear number only in restricted; ``hash_column`` gets the keyed hash of the
        owner's 18-character ID, the key every other feed knows the owner by, so the business's
        records join its owner instead of becoming a subject of their own.
        """
        digest = ids.pii_hash(code, self.pii_key)
        out.persons.append((digest, code, "01+2", ids.mask_id(code)))
        if spec.hash_column:
            out.values[spec.hash_column] = ids.pii_hash(code[:18], self.pii_key)
        return digest

    def _uscc_or_person_id(self, spec: FieldSpec, code: str, source: dict[str, Any], out: RowOutcome) -> str:
        if ids.is_masked_id(code):
            return code
        if ids.is_valid_uscc(code) and not (ids.ambiguous_uscc(code) and self._is_person(spec, code, source)):
            if spec.uscc_column:
                out.values[spec.uscc_column] = code
            return code
        if ids.is_valid_resident_id(code):  # published lists mask it; a clear one is masked here
            self._person(spec, code, "01", out)
            return ids.mask_id(code)
        if ids.looks_like_resident_id(code):
            raise _Invalid(reasons.INVALID_RESIDENT_ID, "a clear resident ID failing the GB 11643 check; "
                           "correct it (published lists show it masked)")
        if ids.uscc_shape_ok(code):
            raise _Invalid(reasons.INVALID_USCC, "GB 32100 check character should be "
                           f"{ids.uscc_check_char(code[:17])!r}; verify the code")
        raise _Invalid(reasons.INVALID_USCC, "neither an 18-symbol GB 32100 code nor a masked resident ID; "
                       "correct it")


@lru_cache(maxsize=65536)
def _valid_uscc(code: str) -> bool:
    """Cached: authority and party codes repeat across the rows of a file."""
    return ids.is_valid_uscc(code)


class _Invalid(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_HANDLERS: dict[str, Callable[..., Any]] = {
    "text": RowValidator._text,
    "enum": RowValidator._enum,
    "enum_list": RowValidator._enum_list,
    "date": RowValidator._date,
    "timestamp": RowValidator._timestamp,
    "year_month": RowValidator._year_month,
    "amount_wan": RowValidator._amount,
    "amount_cny": RowValidator._amount,
    "int": RowValidator._int,
    "identifier": RowValidator._identifier,
    "person_id": RowValidator._person_id,
}
_VALIDATORS: dict[str, Callable[..., str]] = {
    "uscc": RowValidator._uscc,
    "org_code": RowValidator._org_code,
    "registration_number": RowValidator._registration_number,
    "resident_id": RowValidator._resident_id,
    "taxpayer_number": RowValidator._taxpayer_number,
    "uscc_or_person_id": RowValidator._uscc_or_person_id,
}


def choose_field_set(kind: FileKind, header: list[str]) -> FieldSet | None:
    """The field set whose required signature the header carries (most known fields wins a tie)."""
    present = set(header)
    matching = [fs for fs in kind.field_sets
                if {canonical_header(s) for s in fs.signature} <= present]
    if not matching:
        return None
    return max(matching, key=lambda fs: len({canonical_header(s) for s in fs.known} & present))


def raw_record_json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, default=str)
