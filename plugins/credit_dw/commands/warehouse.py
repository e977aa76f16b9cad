"""``credit-dw warehouse start|stop|status`` and ``credit-dw init``."""

from __future__ import annotations

import argparse

from credit_dw import cluster, db
from credit_dw.config import LocalCluster, external_dsn, warehouse_dsn


def register(sub: argparse._SubParsersAction) -> None:
    wh = sub.add_parser("warehouse", help="start, stop or inspect the project-managed PostgreSQL")
    wh.add_argument("action", choices=["start", "stop", "status"])
    wh.set_defaults(handler=_warehouse)

    init = sub.add_parser("init", help="bootstrap or upgrade the configured warehouse (idempotent)")
    init.set_defaults(handler=_init)


def _warehouse(args: argparse.Namespace) -> int:
    if external_dsn():
        print(f"WAREHOUSE_DSN is set: using that server, no local cluster is {args.action}ed.")
        return 0
    local = LocalCluster.from_env()
    if args.action == "start":
        cluster.start(local)
        print(f"PostgreSQL running: {local.dsn()} (data {local.data_dir})")
    elif args.action == "stop":
        print("stopped" if cluster.stop(local) else "not running")
    else:
        print("running" if cluster.is_running(local) else "stopped", local.dsn())
    return 0


def _init(args: argparse.Namespace) -> int:
    applied = db.init_warehouse()
    print(f"warehouse ready at {_redact(warehouse_dsn())}; applied: {', '.join(applied) or 'nothing new'}")
    return 0


def _redact(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)
