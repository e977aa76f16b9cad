"""``credit-dw objection open|resolve|list`` and ``credit-dw repair approve|list``.

Stewards' decisions (Art. 7(7)) from the shell; the rules and messages live in
``credit_dw.governance`` so an Airflow task or a web form would enforce the same ones.
"""

from __future__ import annotations

import argparse
from datetime import date

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    objection = sub.add_parser("objection", help="open, resolve or list objections against records")
    actions = objection.add_subparsers(dest="action", required=True, metavar="ACTION")
    open_ = actions.add_parser("open", help="a subject disputes a record: it is published flagged as disputed")
    open_.add_argument("--record-id", required=True)
    open_.add_argument("--by", required=True, help="who records the objection")
    open_.add_argument("--basis", required=True, help="what the subject says and on what evidence")
    open_.set_defaults(handler=_objection_open)

    resolve = actions.add_parser("resolve", help="uphold (correct / withdraw the record) or reject")
    resolve.add_argument("--objection-id", required=True, type=int)
    resolve.add_argument("--decision", required=True, choices=["upheld", "rejected"])
    resolve.add_argument("--outcome", choices=["corrected", "withdrawn"], help="required when upheld")
    resolve.add_argument("--by", required=True)
    resolve.add_argument("--note", required=True, help="the reasons of the decision")
    resolve.set_defaults(handler=_objection_resolve)

    list_ = actions.add_parser("list", help="objections, newest first")
    list_.add_argument("--status", choices=["pending", "upheld", "rejected"])
    list_.set_defaults(handler=_objection_list)

    repair = sub.add_parser("repair", help="approve or list credit repairs")
    actions = repair.add_subparsers(dest="action", required=True, metavar="ACTION")
    approve = actions.add_parser("approve", help="end a record's publication (kept, not deleted)")
    approve.add_argument("--record-id", required=True)
    approve.add_argument("--by", required=True)
    approve.add_argument("--basis", required=True, help="e.g. penalty performed, commitment signed")
    approve.add_argument("--effective-on", type=date.fromisoformat, default=None,
                         help="YYYY-MM-DD publication ends (default: today, Asia/Shanghai)")
    approve.set_defaults(handler=_repair_approve)

    listing = actions.add_parser("list", help="approved repairs, newest first")
    listing.set_defaults(handler=_repair_list)


def _governance():
    from credit_dw import governance

    return governance


def _objection_open(args: argparse.Namespace) -> int:
    gov = _governance()
    try:
        objection_id = gov.open_objection(args.record_id, args.by, args.basis)
    except gov.GovernanceError as exc:
        raise UserError(str(exc)) from exc
    print(f"objection {objection_id} opened on record {args.record_id}: disputed from the next build")
    return 0


def _objection_resolve(args: argparse.Namespace) -> int:
    gov = _governance()
    try:
        gov.resolve_objection(args.objection_id, args.decision, args.by, args.note, outcome=args.outcome)
    except gov.GovernanceError as exc:
        raise UserError(str(exc)) from exc
    outcome = f" ({args.outcome})" if args.outcome else ""
    print(f"objection {args.objection_id} {args.decision}{outcome}; effective from the next build")
    return 0


def _objection_list(args: argparse.Namespace) -> int:
    rows = _governance().list_objections(args.status)
    for r in rows:
        outcome = f"/{r['outcome']}" if r["outcome"] else ""
        print(f"{r['objection_id']:>6}  {r['status']}{outcome:<11} {r['record_id']}  opened {r['opened_at']:%Y-%m-%d}"
              f" by {r['opened_by']}: {r['basis']}")
    print(f"{len(rows)} objection(s)")
    return 0


def _repair_approve(args: argparse.Namespace) -> int:
    gov = _governance()
    try:
        repair_id = gov.approve_repair(args.record_id, args.by, args.basis, args.effective_on)
    except gov.GovernanceError as exc:
        raise UserError(str(exc)) from exc
    print(f"repair {repair_id} approved for record {args.record_id}; publication ends from the next build")
    return 0


def _repair_list(args: argparse.Namespace) -> int:
    rows = _governance().list_repairs()
    for r in rows:
        print(f"{r['repair_id']:>6}  {r['record_id']}  effective {r['effective_on']}  by {r['approved_by']}"
              f" on {r['approved_at']:%Y-%m-%d}: {r['basis']}")
    print(f"{len(rows)} repair(s)")
    return 0
