"""Which text encoding a delivered CSV uses, decided once per file from a sample.

Departments send UTF-8 (with or without BOM) or GB18030 and do not say which. Decoding the whole
file to find out would defeat streaming, so we look at the first ~64 KB: a BOM settles it; a
sample whose non-ASCII lines are (nearly) all valid UTF-8 is UTF-8 — a stray bad record must not
flip a UTF-8 file to GB18030, because GB18030 decodes almost any byte soup without error and the
whole file would be silently mangled (a tie in strict-decoding failures also goes to UTF-8,
the stricter of the two); otherwise charset-normalizer chooses among the spec's
remaining candidates. Records are then decoded strictly, one by one, so a record that does not
fit the chosen encoding is quarantined instead of being mangled.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

SAMPLE_BYTES = 64 * 1024
_UTF8 = ("utf-8", "utf-8-sig")


def detect_encoding(path: Path, candidates: tuple[str, ...]) -> str:
    """The encoding of ``path`` among ``candidates`` (``utf-8-sig`` means a BOM is present)."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    return detect_sample(sample, candidates, complete=len(sample) < SAMPLE_BYTES)


def detect_sample(sample: bytes, candidates: tuple[str, ...], complete: bool = True) -> str:
    utf8_allowed = any(c in _UTF8 for c in candidates)
    if sample.startswith(codecs.BOM_UTF8) and utf8_allowed:
        return "utf-8-sig"
    if len(candidates) == 1:
        return candidates[0]
    if not complete and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # never judge a line cut in half
    others = [c for c in candidates if c not in _UTF8]
    if not others:
        return "utf-8"
    if utf8_allowed:
        lines = [line for line in sample.splitlines() if not line.isascii()]
        bad_utf8 = _failures(lines, "utf-8")
        if bad_utf8 * 10 <= len(lines) or bad_utf8 <= min(_failures(lines, c) for c in others):
            return "utf-8"
    best = from_bytes(sample, cp_isolation=others).best()
    if best is not None:
        found = codecs.lookup(best.encoding).name
        for candidate in others:
            if codecs.lookup(candidate).name == found:
                return candidate
    return others[0]


def _failures(lines: list[bytes], encoding: str) -> int:
    """How many lines do not decode strictly in ``encoding``."""
    bad = 0
    for line in lines:
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad += 1
    return bad
