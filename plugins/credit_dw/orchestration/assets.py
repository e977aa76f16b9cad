"""Asset names in one place, so producers (ingest DAGs) and consumers (build) agree."""

from __future__ import annotations

from airflow.sdk import Asset


def raw_table_asset(table: str) -> Asset:
    """``raw.penalty`` → ``Asset(name="raw.penalty", uri="warehouse://raw/penalty")``."""
    schema, name = table.split(".", 1)
    return Asset(name=table, uri=f"warehouse://{schema}/{name}")


PUBLISHED_MARTS = Asset(name="marts", uri="warehouse://marts/published")
