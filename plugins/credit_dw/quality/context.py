"""The Great Expectations file context under ``expectations/`` and its warehouse datasource.

Why a lock: a GX file context keeps datasources, suites and checkpoints in files that every
run rewrites (the night's query assets change with the batch ids). Two processes writing them
at once (feed gate and mart gate, a test and a nightly run) would corrupt them, so every use of
the context holds an exclusive ``flock`` on ``gx/.credit_dw.lock``.

Why ``${CREDIT_DW_GX_CONNECTION}``: the datasource is saved in ``great_expectations.yml``; GX
substitutes the variable at run time, so no DSN or password is ever written to disk. We set the
variable from :func:`credit_dw.config.warehouse_dsn` in-process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from credit_dw.config import PROJECT_ROOT, warehouse_dsn

DATASOURCE = "warehouse"  # query assets (the feeds gate's night of a raw table)
TABLE_DATASOURCE = "warehouse_tables"  # whole-table assets (the candidate marts)
CONNECTION_VARIABLE = "CREDIT_DW_GX_CONNECTION"


def gx_root() -> Path:
    """Project root of the GX context (``expectations/``); ``CREDIT_DW_GX_ROOT`` overrides it."""
    return Path(os.environ.get("CREDIT_DW_GX_ROOT", PROJECT_ROOT / "expectations"))


def data_docs_index() -> Path:
    """Where ``UpdateDataDocsAction`` writes the local Data Docs site."""
    return gx_root() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def sqlalchemy_url(dsn: str | None = None) -> str:
    """A libpq DSN (URL or ``key=value``) as the SQLAlchemy URL GX needs (psycopg2 driver)."""
    from sqlalchemy.engine import URL

    params = conninfo_to_dict(dsn or warehouse_dsn())
    query = {
        k: v for k, v in params.items() if k not in {"user", "password", "host", "port", "dbname"}
    }
    url = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password"),
        host=params.get("host"),
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
        query=query,
    )
    return url.render_as_string(hide_password=False)


@contextmanager
def open_context(dsn: str | None = None) -> Iterator[tuple[Any, Any]]:
    """Yield ``(context, datasource)`` under the context lock; imports GX lazily."""
    root = gx_root()
    (root / "gx").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ[CONNECTION_VARIABLE] = sqlalchemy_url(dsn)
    with open(root / "gx" / ".credit_dw.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            logging.getLogger("great_expectations").setLevel(logging.WARNING)
            context = gx.get_context(mode="file", project_root_dir=str(root))
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            datasource = _datasource(context)
            yield context, datasource
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _datasource(context: Any) -> Any:
    """The warehouse datasource, created once; re-adding it would drop its assets.

    ``create_temp_table``: GX (1.24) learns a *query* asset's columns by executing the query
    itself with no limit (``column_reflection_fallback`` on a ``TextClause``), and psycopg2
    buffers the whole result in the client. The feeds gate's raw assets select the night's
    rows of a raw table, so the gate's memory grew with the delivery (0.9 GB at 1M records,
    2.3 GB at 3M). With a temporary table GX stores the query's rows on the server and
    reflects the table with ``limit 1``: the client stays flat (a 1.5M-row query: 612 MiB
    without, 225 MiB with, same time).
    """
    return _postgres(context, DATASOURCE, create_temp_table=True)


def _postgres(context: Any, name: str, *, create_temp_table: bool) -> Any:
    """The warehouse as datasource ``name``, created once (re-adding it would drop its assets);
    an existing one is switched to ``create_temp_table`` in place."""
    if name not in context.data_sources.all():
        return context.data_sources.add_postgres(
            name, connection_string="${" + CONNECTION_VARIABLE + "}", create_temp_table=create_temp_table
        )
    datasource = context.data_sources.get(name)
    if datasource.create_temp_table != create_temp_table:
        datasource.create_temp_table = create_temp_table
        datasource = context.update_datasource(datasource)
    return datasource


def table_datasource(context: Any) -> Any:
    """The datasource of whole-table assets: the same warehouse, without temporary tables.

    GX applies a datasource's ``create_temp_table`` to every batch, tables included: with it a
    table asset is first copied whole into a ``gx_temp_*`` table (``select *`` of the table),
    which lives as long as the process. The marts gate copied every candidate mart that way:
    7 GB of copies at a tenth of the province, held on disk until the gate's process ended. A
    table needs no copy (its columns are reflected from the catalogue), so its assets live on a
    datasource of their own with GX's default, ``create_temp_table=False``.
    """
    sources = context.data_sources.all()
    if TABLE_DATASOURCE not in sources and DATASOURCE in sources:  # a context from before: its
        queries = context.data_sources.get(DATASOURCE)            # table assets move here
        for asset in [a for a in queries.assets if a.type == "table"]:
            queries.delete_asset(asset.name)
    return _postgres(context, TABLE_DATASOURCE, create_temp_table=False)


def delete_validation_definition(context: Any, name: str) -> None:
    """Delete by name; one whose asset is gone cannot even be loaded, so drop its file then."""
    try:
        context.validation_definitions.delete(name)
    except Exception:  # not found, or not loadable
        (gx_root() / "gx" / "validation_definitions" / f"{name}.json").unlink(missing_ok=True)


def replace_query_asset(datasource: Any, name: str, query: str) -> Any:
    """(Re)create a query asset: the night's batch ids are part of its query."""
    if name in datasource.get_asset_names():
        datasource.delete_asset(name)
    return datasource.add_query_asset(name, query=query)


def table_asset(datasource: Any, name: str, schema: str, table: str) -> Any:
    """The table asset, kept from night to night: unlike a query asset nothing in it changes,
    and every re-add rewrites the whole ``great_expectations.yml``."""
    if name in datasource.get_asset_names():
        asset = datasource.get_asset(name)
        if asset.table_name == table and asset.schema_name == schema:
            return asset
        datasource.delete_asset(name)
    return datasource.add_table_asset(name, table_name=table, schema_name=schema)


def whole_table_batch(asset: Any) -> Any:
    """The asset's one batch definition, the whole table (or query), added once."""
    if "whole" in {definition.name for definition in asset.batch_definitions}:
        return asset.get_batch_definition("whole")
    return asset.add_batch_definition_whole_table("whole")


def replace_by_name(store: Any, name: str, obj: Any) -> Any:
    """``context.suites`` / ``validation_definitions`` / ``checkpoints``: delete then add.

    Suites live in code (``suites.py``); the JSON GX writes is a generated copy, rebuilt every
    run so it can never drift from the code.
    """
    with contextlib.suppress(Exception):  # GX raises several types for "not found"
        store.delete(name)
    return store.add(obj)
