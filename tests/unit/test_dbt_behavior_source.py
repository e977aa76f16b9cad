"""``credit_dw.dbt.cheap_behavior_flag_source``: dbt's behavior flags name the same source module
without ``inspect.stack()`` (which read the source of every frame; ~25 s a demo night)."""

from __future__ import annotations

import inspect

import pytest
from dbt_common import behavior_flags

from credit_dw.dbt import cheap_behavior_flag_source

FLAG = {"name": "some_flag", "default": False, "description": "a flag for the test"}


def _source() -> str:
    return behavior_flags.Behavior([FLAG], {}).some_flag._behavior_change_event.flag_source


@pytest.fixture
def original_source(monkeypatch):
    monkeypatch.setattr(behavior_flags.BehaviorFlagRendered, "_default_source",
                        behavior_flags.BehaviorFlagRendered.__dict__["_default_source"])
    return _source()


def test_the_source_is_the_module_that_declared_the_flags(original_source, monkeypatch):
    assert original_source == __name__
    cheap_behavior_flag_source()
    cheap_behavior_flag_source()  # idempotent
    assert getattr(behavior_flags.BehaviorFlagRendered._default_source, "cheap", False)

    def _no_stack(*_args, **_kwargs):
        raise AssertionError("inspect.stack() was called")

    monkeypatch.setattr(inspect, "stack", _no_stack)
    assert _source() == original_source
