"""credit-dw: the operator's command line for the credit data warehouse.

Each sub-command lives in its own module under ``credit_dw.commands`` and exposes
``register(subparsers)``; modules are discovered, so adding a command touches no shared file.
Commands call the same library functions as the Airflow tasks, and all honour
``WAREHOUSE_DSN`` and ``LANDING_ROOT``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from credit_dw import commands


class UserError(Exception):
    """An error the user can fix; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credit-dw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from psycopg import OperationalError

    from credit_dw.cluster import ClusterError
    from credit_dw.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, ConfigError, ClusterError) as exc:  # ClusterError: e.g. no server binaries
        print(f"credit-dw {args.command}: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # server down, wrong DSN, connection lost: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"credit-dw {args.command}: the warehouse database failed ({first}); check WAREHOUSE_DSN "
              "and that the server is up, then run the command again", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # `python -m credit_dw.cli`: run the imported module's main, whose UserError is the class
    # the commands raise (this file's own copy, __main__.UserError, would not catch it).
    from credit_dw.cli import main as imported_main

    sys.exit(imported_main())
