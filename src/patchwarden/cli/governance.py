"""``rules evaluate|list``, ``remediation start|list|approve|except``, ``conformance score``:
governance clients of the fleet server (``get compliance --rules`` lives with ``get``)."""

from __future__ import annotations

import argparse
from typing import Any

from patchwarden.cli.api import add_connection_options
from patchwarden.cli.common import printable


def _rules(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    api = ServerApi(args)
    if args.rules_action == "evaluate":
        body = {"rule": args.name} if args.name else {}
        counts = api.call("POST", "/api/v1/rules/evaluate", json=body)["evaluated"]
        show(args, counts, sorted(counts))
        return 0
    rows = api.call("GET", "/api/v1/rules")["rules"]
    show(args, rows, ["name", "type", "pack", "compliance"])
    return 0


def show_rule_compliance(args: argparse.Namespace) -> int:
    """``get compliance --rules``: the latest result per rule and resource."""
    from patchwarden.cli.api import ServerApi, print_json, print_table

    value = ServerApi(args).call("GET", "/api/v1/rule-compliance")
    if args.format == "json":
        print_json(value)
        return 0
    rows = [
        {
            "rule": r["rule"],
            "rule_compliance": r["compliance"],
            "resource_id": node,
            "compliance": state,
        }
        for r in value["rules"]
        for node, state in (r["resources"].items() or [("", "")])
    ]
    print_table(rows, ["rule", "rule_compliance", "resource_id", "compliance"])
    return 0


def _remediation(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    api = ServerApi(args)
    columns = ["id", "rule", "resource_id", "manual", "status", "execution_status", "message"]
    action = args.remediation_action
    if action == "start":
        body = {"rule": args.rule, "resource_id": args.resource_id}
        show(args, api.call("POST", "/api/v1/remediations", json=body), columns)
    elif action == "approve":
        body = {"approve": not args.reject, "comment": args.comment or ""}
        show(args, api.call("POST", f"/api/v1/remediations/{args.id}/approve", json=body), columns)
    elif action == "except":
        body = {
            "rule": args.rule,
            "resource_id": args.resource_id,
            "reason": args.reason,
            "expires_at": args.expires,
        }
        found = api.call("POST", "/api/v1/remediation-exceptions", json=body)["exceptions"]
        show(args, found, ["rule", "resource_id", "manual", "expires_at", "reason"])
    else:
        params = {"rule": args.rule} if args.rule else {}
        value = api.call("GET", "/api/v1/remediations", params=params)
        if args.format == "json":
            show(args, value, [])
            return 0
        show(args, value["remediations"], columns)
        if value.get("pending"):
            print("\npending automatic starts (the server starts these on its own):")
            show(
                args,
                value["pending"],
                ["rule", "resource_id", "runbook", "phase", "due_at", "attempt"],
            )
        if value["exceptions"]:
            print()
            show(
                args, value["exceptions"], ["rule", "resource_id", "manual", "expires_at", "reason"]
            )
    return 0


def _conformance(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    api = ServerApi(args)
    columns = ["name", "compliance", "score", "compliant_pairs", "non_compliant_pairs"]
    if args.pack:
        value = api.call("GET", f"/api/v1/conformance-packs/{args.pack}/score")
        show(args, value, columns)
        if args.format != "json":
            for rule, state in value["rules"].items():
                print(f"  {printable(rule)}: {printable(state)}")
    else:
        show(args, api.call("GET", "/api/v1/conformance-packs")["packs"], columns)
    return 0


def _responsibility(args: argparse.Namespace) -> int:
    import sys

    from patchwarden.cli.api import ServerApi, print_json
    from patchwarden.render.responsibility import html, text
    from patchwarden.render.table import terminal_width

    data = ServerApi(args).call("GET", "/api/v1/responsibility")
    if args.format == "json":
        print_json(data)
    elif args.format == "html":
        sys.stdout.write(html(data))
    else:
        sys.stdout.write(printable_lines(text(data, terminal_width(), everything=args.all)))
    return 0


def printable_lines(value: str) -> str:
    """``value`` with each line's non-printable characters escaped."""
    return "".join(printable(line) + "\n" for line in value.splitlines())


def register(sub: Any) -> None:
    """Add ``rules``, ``remediation``, ``conformance`` and ``responsibility``."""
    resp = sub.add_parser(
        "responsibility", help="who patches what (OS, runtime, application), and is it done"
    )
    psub = resp.add_subparsers(dest="responsibility_action", metavar="ACTION", required=True)
    report = psub.add_parser(
        "report",
        help="per resource kind: the owner and state of each layer; resources needing attention",
    )
    report.add_argument("--all", action="store_true", help="list every resource's checks")
    add_connection_options(report, formats=("table", "json", "html"))
    report.set_defaults(handler=_responsibility)

    rules = sub.add_parser("rules", help="compliance rules on the server")
    rsub = rules.add_subparsers(dest="rules_action", metavar="ACTION", required=True)
    evaluate = rsub.add_parser("evaluate", help="evaluate every rule (or NAME) on every node now")
    evaluate.add_argument("name", metavar="NAME", nargs="?", help="one rule (default: all)")
    listing = rsub.add_parser("list", help="rules and their compliance")
    for p in (evaluate, listing):
        add_connection_options(p)
        p.set_defaults(handler=_rules)

    rem = sub.add_parser("remediation", help="remediation runs, approvals and exceptions")
    msub = rem.add_subparsers(dest="remediation_action", metavar="ACTION", required=True)
    start = msub.add_parser("start", help="run a rule's remediation on a resource now")
    start.add_argument("rule", metavar="RULE", help="the rule whose remediation runs")
    start.add_argument("resource_id", metavar="RESOURCE_ID", help="the node (mi-…)")
    listed = msub.add_parser(
        "list", help="remediation runs, pending automatic starts (with their time), exceptions"
    )
    listed.add_argument("--rule", help="only this rule's remediations")
    approve = msub.add_parser("approve", help="approve (or --reject) a waiting run")
    approve.add_argument("id", metavar="REMEDIATION_ID", help="the waiting execution")
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--comment", help="recorded with the decision")
    accept = msub.add_parser("except", help="accept the risk: no automatic runs until a date")
    accept.add_argument("rule", metavar="RULE", help="the rule the exception is for")
    accept.add_argument("resource_id", metavar="RESOURCE_ID", help="the node (mi-…)")
    accept.add_argument("--reason", required=True, help="why the risk is accepted (audited)")
    accept.add_argument("--expires", metavar="ISO-DATE-TIME", help="e.g. 2026-06-30T00:00:00Z")
    for p in (start, listed, approve, accept):
        add_connection_options(p)
        p.set_defaults(handler=_remediation)

    conf = sub.add_parser("conformance", help="conformance packs")
    csub = conf.add_subparsers(dest="conformance_action", metavar="ACTION", required=True)
    score = csub.add_parser("score", help="pack compliance and compliance score")
    score.add_argument("pack", metavar="PACK", nargs="?", help="one pack (default: all)")
    add_connection_options(score)
    score.set_defaults(handler=_conformance)
