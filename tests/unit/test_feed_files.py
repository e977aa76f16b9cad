"""What follows from the feed specs: generated dbt files in step, GX raw rules and purge keys derived."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from credit_dw.dbt import DBT_PROJECT_DIR
from credit_dw.feeds import all_specs, schema
from credit_dw.feeds.dbt_files import generated_files, record_models
from credit_dw.governance import raw_record_keys
from credit_dw.quality import suites


@pytest.mark.parametrize("path", sorted(generated_files(DBT_PROJECT_DIR)), ids=lambda p: p.name)
def test_generated_dbt_files_match_the_specs(path):
    want = generated_files(DBT_PROJECT_DIR)[path]
    have = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True), "committed", "from specs"))
    assert have == want, f"{path.name} differs from the feed specs; run `credit-dw feeds sync`:\n{diff}"


def test_sources_declare_every_raw_table_and_a_freshness_per_feed():
    import yaml

    sources = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/_sources.yml").read_text(encoding="utf-8"))
    by_name = {s["name"]: s for s in sources["sources"]}
    raw = {t["name"] for t in by_name["raw"]["tables"]}
    fresh = {t["name"]: t["freshness"] for t in by_name["quality"]["tables"] if "freshness" in t}
    for spec in all_specs():
        assert {t.removeprefix("raw.") for t in spec.raw_tables} <= raw, spec.feed
        assert fresh[f"{spec.feed}_deliveries"]["warn_after"] == spec.freshness["warn_after"], spec.feed


def test_record_models_are_the_by_feed_folder():
    models = record_models(DBT_PROJECT_DIR)
    assert "int_penalty__records" in models and "int_credit_record__unioned" not in models
    assert len(models) >= len(schema.file_kinds())   # at least one record model per raw table


@pytest.mark.parametrize("table", sorted(schema.file_kinds()))
def test_gx_raw_rules_follow_the_spec(table):
    """Every raw table is gated, with the spec's value sets, required and USCC columns, nothing else."""
    _, kind = schema.file_kinds()[table]
    rules = suites.RAW_TABLES.get(table.removeprefix("raw."))
    assert rules is not None, f"{table} has no GX raw rules"
    suite = suites.raw_table_suite(rules)
    in_set = {e.column: sorted(e.value_set) for e in suite.expectations
              if type(e).__name__ == "ExpectColumnValuesToBeInSet" and getattr(e, "mostly", 1) == 1}
    assert in_set == {c: sorted(v) for c, v in schema.value_sets(kind).items()}
    not_null = {e.column for e in suite.expectations if type(e).__name__ == "ExpectColumnValuesToNotBeNull"}
    spec_required = {f.column for fs in kind.field_sets for f in fs.fields if f.required and f.column}
    assert not_null <= spec_required and not_null == set(schema.required_columns(kind))
    assert set(rules.columns) == set(schema.raw_columns(kind))


def test_tax_rating_levels_are_defined_in_the_spec_only():
    """The example of the issue: the level list is read from tax.yaml by the GX rules."""
    rating = next(k for s in all_specs() for k in s.files if k.raw_table == "raw.tax_rating")
    levels = schema.value_sets(rating)["rating_level"]
    assert suites.RAW_TABLES["tax_rating"].value_sets["rating_level"] == levels
    assert "'A', 'B', 'M', 'C', 'D'" not in Path(suites.__file__).read_text(encoding="utf-8")


def test_purge_keys_are_the_spec_record_keys():
    keys = raw_record_keys()
    assert set(keys) == set(schema.file_kinds())
    assert keys["raw.registration"] == ["uscc"]                       # record_key, not the file key
    assert keys["raw.tax_rating"] == ["taxpayer_number", "rating_year::text"]   # int key part as text
