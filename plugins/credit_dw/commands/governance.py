"""``credit-dw objection|repair|case``: objection and credit repair cases (Art. 7(7)).

Stewards record each step of a case from the shell: intake (``objection open``, ``repair
apply``), the platform's answer (``case accept|refuse``), the authority's decision
(``objection resolve``, ``repair approve|refuse``) and the feedback to the providing department
(``case feedback``). Every step is a new row; the rules and messages live in
``credit_dw.governance`` so an Airflow task or a web form would enforce the same ones.
"""

from __future__ import annotations

import argparse
from datetime import date

from credit_dw.cli import UserError


def _day(parser: argparse.ArgumentParser, flag: str, what: str) -> None:
    parser.add_argument(flag, type=date.fromisoformat, default=None,
                        help=f"YYYY-MM-DD {what} (default: today, Asia/Shanghai)")


def _intake_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record-id", required=True)
    parser.add_argument("--by", required=True, help="the steward recording the intake")
    parser.add_argument("--basis", required=True, help="what the applicant says and on what evidence")
    parser.add_argument("--applicant", help="who applies (default: --by)")
    parser.add_argument("--materials", help="where the application's materials are filed")
    _day(parser, "--received-on", "the application was received; deadlines run from it")


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    return name.strip(), value


def register(sub: argparse._SubParsersAction) -> None:
    objection = sub.add_parser("objection", help="objection cases against records")
    actions = objection.add_subparsers(dest="action", required=True, metavar="ACTION")
    open_ = actions.add_parser("open", help="intake: the record is published flagged as disputed until decided")
    _intake_options(open_)
    open_.set_defaults(handler=_objection_open)

    resolve = actions.add_parser("resolve", help="the authority upholds (corrects / withdraws) or rejects")
    resolve.add_argument("--objection-id", required=True, type=int)
    resolve.add_argument("--decision", required=True, choices=["upheld", "rejected"])
    resolve.add_argument("--outcome", choices=["corrected", "withdrawn"], help="required when upheld")
    resolve.add_argument("--corrected", type=_field, action="append", metavar="FIELD=VALUE",
                         help="the corrected content (required with --outcome corrected), once per field")
    resolve.add_argument("--by", required=True)
    resolve.add_argument("--note", required=True, help="the reasons of the decision")
    _day(resolve, "--on", "of the decision")
    resolve.set_defaults(handler=_objection_resolve)

    list_ = actions.add_parser("list", help="objections, newest first")
    list_.add_argument("--status", choices=["pending", "upheld", "rejected"])
    list_.set_defaults(handler=_objection_list)

    repair = sub.add_parser("repair", help="credit repair cases")
    actions = repair.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser("apply", help="intake of a repair application")
    _intake_options(apply)
    apply.set_defaults(handler=_repair_apply)

    approve = actions.add_parser("approve", help="end a record's publication (kept, not deleted)")
    target = approve.add_mutually_exclusive_group(required=True)
    target.add_argument("--record-id", help="decide the record's open case (or record intake and decision at once)")
    target.add_argument("--case-id", type=int)
    approve.add_argument("--by", required=True)
    approve.add_argument("--basis", required=True, help="the reasons, e.g. penalty performed, commitment signed")
    _day(approve, "--effective-on", "publication ends")
    approve.set_defaults(handler=_repair_approve)

    refuse = actions.add_parser("refuse", help="the authority refuses a repair application")
    refuse.add_argument("--case-id", required=True, type=int)
    refuse.add_argument("--by", required=True)
    refuse.add_argument("--reasons", required=True)
    refuse.set_defaults(handler=_repair_refuse)

    listing = actions.add_parser("list", help="approved repairs, newest first")
    listing.set_defaults(handler=_repair_list)

    case = sub.add_parser("case", help="steps common to objection and repair cases; their timeline")
    actions = case.add_subparsers(dest="action", required=True, metavar="ACTION")
    accept = actions.add_parser("accept", help="the platform accepts and forwards the case to the authority")
    accept.add_argument("--case-id", required=True, type=int)
    accept.add_argument("--by", required=True)
    accept.add_argument("--note")
    _day(accept, "--on", "of acceptance")
    accept.set_defaults(handler=_case_accept)

    not_accepted = actions.add_parser("refuse", help="the platform does not accept the case (closes it)")
    not_accepted.add_argument("--case-id", required=True, type=int)
    not_accepted.add_argument("--by", required=True)
    not_accepted.add_argument("--reasons", required=True)
    _day(not_accepted, "--on", "of the answer")
    not_accepted.set_defaults(handler=_case_refuse)

    feedback = actions.add_parser("feedback", help="feedback sent to the providing department (closes it)")
    feedback.add_argument("--case-id", required=True, type=int)
    feedback.add_argument("--by", required=True)
    feedback.add_argument("--to", help="the department (default: the record's providing authority)")
    feedback.add_argument("--ref", required=True, help="reference of the letter or message sent")
    _day(feedback, "--on", "the feedback was sent")
    feedback.set_defaults(handler=_case_feedback)

    cases = actions.add_parser("list", help="cases and their state, oldest intake first")
    cases.add_argument("--open", action="store_true", help="only cases not closed yet")
    cases.set_defaults(handler=_case_list)

    show = actions.add_parser("show", help="one case and every step recorded on it")
    show.add_argument("--case-id", required=True, type=int)
    show.set_defaults(handler=_case_show)


def _governance():
    from credit_dw import governance

    return governance


def _run(call, *args, **kwargs):
    gov = _governance()
    try:
        return call(gov)(*args, **kwargs)
    except gov.GovernanceError as exc:
        raise UserError(str(exc)) from exc


def _objection_open(args: argparse.Namespace) -> int:
    objection_id = _run(lambda g: g.open_objection, args.record_id, args.by, args.basis, applicant=args.applicant,
                        materials_ref=args.materials, received_on=args.received_on)
    print(f"objection {objection_id} opened on record {args.record_id}: disputed from the next build")
    return 0


def _objection_resolve(args: argparse.Namespace) -> int:
    content = dict(args.corrected) if args.corrected else None
    _run(lambda g: g.resolve_objection, args.objection_id, args.decision, args.by, args.note, outcome=args.outcome,
         corrected_content=content, on=args.on)
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


def _repair_apply(args: argparse.Namespace) -> int:
    case_id = _run(lambda g: g.apply_repair, args.record_id, args.by, args.basis, applicant=args.applicant,
                   materials_ref=args.materials, received_on=args.received_on)
    print(f"repair case {case_id} received for record {args.record_id}")
    return 0


def _repair_approve(args: argparse.Namespace) -> int:
    case_id = _run(lambda g: g.approve_repair, args.record_id, args.by, args.basis, args.effective_on,
                   case_id=args.case_id)
    print(f"repair {case_id} approved; publication ends from the next build")
    return 0


def _repair_refuse(args: argparse.Namespace) -> int:
    _run(lambda g: g.refuse_repair, args.case_id, args.by, args.reasons)
    print(f"repair case {args.case_id} refused; the record stays published")
    return 0


def _repair_list(args: argparse.Namespace) -> int:
    rows = _governance().list_repairs()
    for r in rows:
        print(f"{r['repair_id']:>6}  {r['record_id']}  effective {r['effective_on']}  by {r['approved_by']}"
              f" on {r['approved_at']:%Y-%m-%d}: {r['basis']}")
    print(f"{len(rows)} repair(s)")
    return 0


def _case_accept(args: argparse.Namespace) -> int:
    _run(lambda g: g.accept_case, args.case_id, args.by, args.on, args.note)
    print(f"case {args.case_id} accepted and forwarded to the providing authority")
    return 0


def _case_refuse(args: argparse.Namespace) -> int:
    _run(lambda g: g.refuse_case, args.case_id, args.by, args.reasons, args.on)
    print(f"case {args.case_id} not accepted; closed")
    return 0


def _case_feedback(args: argparse.Namespace) -> int:
    _run(lambda g: g.send_feedback, args.case_id, args.by, args.to, args.ref, args.on)
    print(f"case {args.case_id}: feedback recorded; closed")
    return 0


def _case_list(args: argparse.Namespace) -> int:
    rows = _governance().list_cases(open_only=args.open)
    for r in rows:
        decision = f" {r['decision']}" if r["decision"] else ""
        print(f"{r['case_id']:>6}  {r['case_type']:<9} {r['state']:<12}{decision:<13} {r['record_id']}"
              f"  received {r['received_on']} from {r['applicant']}")
    print(f"{len(rows)} case(s)")
    return 0


def _case_show(args: argparse.Namespace) -> int:
    case, events = _run(lambda g: g.case_history, args.case_id)
    print(f"{case['case_type']} case {case['case_id']} on record {case['record_id']}: {case['state']}")
    print(f"  {case['received_on']}  received from {case['applicant']} (recorded by {case['opened_by']}):"
          f" {case['basis']}" + (f" [materials: {case['materials_ref']}]" if case["materials_ref"] else ""))
    for e in events:
        detail = [e[k] for k in ("decision", "outcome", "reasons") if e[k]]
        if e["effective_on"]:
            detail.append(f"effective {e['effective_on']}")
        if e["corrected_content"]:
            detail.append(f"corrected {e['corrected_content']}")
        if e["feedback_to"]:
            detail.append(f"to {e['feedback_to']} ({e['feedback_ref']})")
        print(f"  {e['occurred_on']}  {e['event']} by {e['recorded_by']}: {'; '.join(map(str, detail))}")
    return 0
