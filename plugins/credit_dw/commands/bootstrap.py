"""``credit-dw bootstrap``: set up or upgrade a deployment (the compose init service's command)."""

from __future__ import annotations

import argparse

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bootstrap",
        help="create the warehouse and Airflow databases and login roles, migrate both, create the "
             "Airflow admin (idempotent; what docker compose's airflow-init runs)",
    )
    p.set_defaults(handler=_bootstrap)


def _bootstrap(args: argparse.Namespace) -> int:
    from credit_dw.bootstrap import BootstrapError, bootstrap

    try:
        bootstrap(say=lambda line: print(f"bootstrap: {line}", flush=True))
    except BootstrapError as exc:
        raise UserError(str(exc)) from exc
    return 0
