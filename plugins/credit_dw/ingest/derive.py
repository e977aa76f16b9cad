"""Named row hooks a feed spec can list under ``derived``: columns computed from several fields.

Kept tiny and named so specs stay data: a hook is referenced by name, receives the validated
column values of one accepted row and the PII key, and adds columns in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from credit_dw import identifiers as ids

_LINEAGE = {"batch_id", "source_file", "source_row", "party_key", "content_hash"}


def judicial_party_key(row: dict[str, Any], key: bytes) -> None:
    """USCC for organisations; for persons the HMAC of masked ID + name (lists publish no clear ID)."""
    if row.get("party_uscc"):
        row["party_key"] = row["party_uscc"]
    else:
        row["party_key"] = ids.pii_hash(f"{row.get('card_num') or ''}|{row.get('party_name') or ''}", key)


def content_hash(row: dict[str, Any], key: bytes) -> None:
    """md5 of the entry's published fields: a different hash for the same key is a changed entry."""
    payload = json.dumps({k: v for k, v in sorted(row.items()) if k not in _LINEAGE},
                         ensure_ascii=False, default=str, sort_keys=True)
    row["content_hash"] = hashlib.md5(payload.encode()).hexdigest()


HOOKS: dict[str, Callable[[dict[str, Any], bytes], None]] = {
    "judicial_party_key": judicial_party_key,
    "content_hash": content_hash,
}
