"""``credit-dw feeds sync|check|ddl FEED``: the files that follow from the feed specs.

``sync`` rewrites the generated dbt files (raw sources and freshness, the record-model list);
``check`` only says which differ (exit 1); ``ddl`` prints the raw table a spec describes (what
``credit-dw init`` creates for a feed that has no table yet).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("feeds", help="generate what follows from the feed specs (dbt sources, record models)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("sync", help="rewrite the generated dbt files from the specs").set_defaults(handler=_sync)
    actions.add_parser("check", help="list generated dbt files that differ from the specs").set_defaults(
        handler=_check)
    ddl = actions.add_parser("ddl", help="print the raw table DDL a feed spec describes")
    ddl.add_argument("feed")
    ddl.set_defaults(handler=_ddl)


def _sync(args: argparse.Namespace) -> int:
    from credit_dw.dbt import DBT_PROJECT_DIR
    from credit_dw.feeds import dbt_files

    written = dbt_files.sync(DBT_PROJECT_DIR)
    for path in written:
        print(f"wrote {path.relative_to(DBT_PROJECT_DIR.parent)}")
    if not written:
        print("generated dbt files are up to date")
    return 0


def _check(args: argparse.Namespace) -> int:
    from credit_dw.dbt import DBT_PROJECT_DIR
    from credit_dw.feeds import dbt_files

    stale = dbt_files.stale_files(DBT_PROJECT_DIR)
    for path in stale:
        print(f"{path.relative_to(DBT_PROJECT_DIR.parent)} differs from the feed specs: run `credit-dw feeds sync`")
    return 1 if stale else 0


def _ddl(args: argparse.Namespace) -> int:
    from credit_dw.cli import UserError
    from credit_dw.feeds import SpecError, load_spec
    from credit_dw.feeds.schema import create_table_sql

    try:
        spec = load_spec(args.feed)
    except SpecError as exc:
        raise UserError(str(exc)) from None
    for kind in spec.files:
        print(create_table_sql(kind))
    return 0
