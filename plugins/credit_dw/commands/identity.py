"""``credit-dw identity review|accept|reject|rotate-key``: one person, one subject (issue 11).

``review`` lists the candidate links between a person the lists show masked and a person known
by a clear ID that wait for a steward (masked IDs only); ``accept`` / ``reject`` record the
steward's decision (who: the operating-system user; when: now), applied at the next build.
``rotate-key`` re-keys every keyed hash from the old ``CREDIT_DW_PII_KEY`` to the new one.
"""

from __future__ import annotations

import argparse

from credit_dw.cli import UserError


def register(sub: argparse._SubParsersAction) -> None:
    identity = sub.add_parser("identity", help="person links across feeds: review, accept, reject; key rotation")
    actions = identity.add_subparsers(dest="action", required=True, metavar="ACTION")

    review = actions.add_parser("review", help="candidate person links waiting for a steward (masked IDs only)")
    review.add_argument("--status", default="pending", choices=["pending", "auto", "accepted", "rejected", "all"],
                        help="which links to list (default: pending)")
    review.set_defaults(handler=_review)

    for name, decision, what in (("accept", "accepted", "merge the two persons into one subject"),
                                 ("reject", "rejected", "keep the two persons apart")):
        action = actions.add_parser(name, help=f"{what} from the next build")
        action.add_argument("link_id", metavar="LINK_ID")
        action.add_argument("--reason", required=True, help="why (evidence checked, documents seen)")
        action.set_defaults(handler=_decide, decision=decision)

    rotate = actions.add_parser(
        "rotate-key", help="re-key every keyed hash from CREDIT_DW_PII_KEY_OLD to CREDIT_DW_PII_KEY, in one "
                           "transaction (then run credit-dw build --full-refresh)")
    rotate.set_defaults(handler=_rotate)


def _identity():
    from credit_dw import identity

    return identity


def _review(args: argparse.Namespace) -> int:
    identity = _identity()
    try:
        links = identity.list_links(None if args.status == "all" else args.status)
    except identity.IdentityError as exc:
        raise UserError(str(exc)) from exc
    for link in links:
        evidence = link["evidence"]
        seen = ", ".join(evidence.get("seen_at") or []) or "-"
        decided = (f"; {link['link_status']} by {link['decided_by']} {link['decided_at']:%Y-%m-%d}:"
                   f" {link['decision_reason']}" if link["decided_by"] else "")
        print(f"{link['link_id']}  {link['link_status']:<8} confidence {link['confidence']}  {link['masked_id']}"
              f" {link['person_name']}  candidates {link['candidate_count']}, ID issued in"
              f" {evidence.get('id_city_of_issue') or '?'}, seen at {seen}{decided}")
    print(f"{len(links)} link(s)" + (f" {args.status}" if args.status != "all" else ""))
    return 0


def _decide(args: argparse.Namespace) -> int:
    identity = _identity()
    try:
        link = identity.decide_link(args.link_id, args.decision, args.reason)
    except identity.IdentityError as exc:
        raise UserError(str(exc)) from exc
    print(f"link {link['link_id']} ({link['masked_id']} {link['person_name']}) {args.decision} by"
          f" {link['decided_by']}; applied at the next build")
    return 0




def _rotate(args: argparse.Namespace) -> int:
    import os

    from credit_dw import config, rotation

    old = os.environ.get("CREDIT_DW_PII_KEY_OLD", "").strip()
    if not old:
        raise UserError("set CREDIT_DW_PII_KEY_OLD to the key the warehouse was built with and CREDIT_DW_PII_KEY "
                        "to the new one")
    try:
        counts = rotation.rotate_key(old.encode(), config.pii_hash_key())
    except rotation.RotationError as exc:
        raise UserError(str(exc)) from exc
    for column, rewritten in counts.items():
        if rewritten:
            print(f"{column:<60} {rewritten:>10}")
    print(f"re-keyed {sum(counts.values())} value(s) in one transaction; now run `credit-dw build --full-refresh` "
          "so the dbt schemas follow, and retire CREDIT_DW_PII_KEY_OLD")
    return 0
