"""CREDIT_DW_PII_KEY: the placeholder of .env.example is refused, a real secret is used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from credit_dw import config

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_the_placeholder_key_from_env_example_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    placeholder = re.search(r"^CREDIT_DW_PII_KEY=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE).group(1).strip()
    assert placeholder in config.PLACEHOLDER_PII_KEYS
    monkeypatch.setenv("CREDIT_DW_PII_KEY", placeholder)
    with pytest.raises(config.ConfigError, match=r"placeholder from \.env\.example"):
        config.pii_hash_key()


def test_a_real_key_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_DW_PII_KEY", "3f1c9a7e5b2d4c6a8e0f1a3b5c7d9e1f")
    assert config.pii_hash_key() == b"3f1c9a7e5b2d4c6a8e0f1a3b5c7d9e1f"
