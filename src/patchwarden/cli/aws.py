"""``patchwarden aws import|export``: the AWS connector (extra ``patchwarden[aws]``).

``aws import`` reads an account's EC2, RDS, Lambda, ECS and EKS resources and sends them to
the fleet server as one source (``PUT /api/v1/resources/sources/aws:ACCOUNT:REGION``);
``aws export baselines|windows`` writes the server's baselines and maintenance windows to
SSM.  Credentials come from AWS's standard chain only (docs/aws-connector.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any
from urllib.parse import quote

from patchwarden.cli.api import add_connection_options


def _aws_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWS (credentials: the standard chain — env, profile, role)")
    g.add_argument("--region", metavar="REGION", help="AWS region (default: the chain's)")
    g.add_argument("--profile", metavar="PROFILE", help="a profile of ~/.aws/config")
    g.add_argument(
        "--endpoint-url", metavar="URL", help="another endpoint for every AWS service (LocalStack)"
    )
    add_connection_options(p)
    p.add_argument("-f", dest="format", choices=("table", "json"), help="same as --format")


def _clients(args: argparse.Namespace) -> Any:
    from patchwarden.adapters.aws.connector.session import AwsOptions, open_clients

    return open_clients(AwsOptions(args.region, args.profile, args.endpoint_url))


def _warn(lines: list[str]) -> None:
    from patchwarden.cli.common import printable

    for line in lines:
        print(f"patchwarden: warning: {printable(line)}", file=sys.stderr)


def _import(args: argparse.Namespace) -> int:
    from patchwarden.adapters.aws.connector.account import import_account, parse_services
    from patchwarden.cli.api import ServerApi, print_json, print_table
    from patchwarden.cli.common import now

    services = parse_services(args.services)
    api = None if args.dry_run else ServerApi(args)
    snapshot = import_account(_clients(args), services, now())
    _warn(snapshot.warnings)
    body = {"resources": snapshot.resources, "resource_types": snapshot.resource_types}
    if api is None:
        if args.format == "json":
            print_json({"source": snapshot.source, **body, "warnings": snapshot.warnings})
        else:
            print(f"source: {snapshot.source} (dry run: nothing sent)")
            print_table(snapshot.resources, ["resource_type", "name", "resource_id"])
        return 1 if snapshot.failed else 0
    path = f"/api/v1/resources/sources/{quote(snapshot.source, safe=':')}"
    answer = api.call("PUT", path, json=body)
    if args.format == "json":
        print_json({**answer, "warnings": snapshot.warnings})
    else:
        counts = Counter(r["resource_type"] for r in snapshot.resources)
        print_table(
            [{"resource_type": t, "count": n} for t, n in sorted(counts.items())],
            ["resource_type", "count"],
        )
        print(
            f"\nsource {answer.get('source', snapshot.source)}: {answer.get('added', 0)} added, "
            f"{answer.get('updated', 0)} updated, {answer.get('removed', 0)} removed, "
            f"{answer.get('resources', len(snapshot.resources))} resources"
        )
    return 1 if snapshot.failed else 0


def _names(args: argparse.Namespace, api: Any, listing: str) -> list[str]:
    from patchwarden.errors import InputError

    if args.all and args.names:
        raise InputError("give NAME… or --all, not both")
    if args.all:
        return sorted(str(item["name"]) for item in api.call("GET", listing))
    if not args.names:
        raise InputError("name the objects to export, or give --all")
    return list(args.names)


def _export(args: argparse.Namespace) -> int:
    from patchwarden.adapters.aws.connector.export import Outcome, export_baseline
    from patchwarden.adapters.aws.connector.windows import export_window
    from patchwarden.cli.api import ServerApi, print_json, print_table

    api = ServerApi(args)
    kind = args.export_kind
    listing = "/api/v1/baselines" if kind == "baselines" else "/api/v1/windows"
    names = _names(args, api, listing)
    found = [api.call("GET", f"{listing}/{quote(name, safe='')}") for name in names]
    clients = _clients(args)
    outcomes: list[Outcome] = []
    for item in found:
        if kind == "baselines":
            groups = item.get("patch_groups", []) if args.register_patch_groups else []
            outcomes.append(export_baseline(clients, item["document"], groups))
        else:
            outcomes.append(export_window(clients, item["document"]))
    rows = [o.row() for o in outcomes]
    if args.format == "json":
        print_json([{**r, "warnings": o.warnings} for r, o in zip(rows, outcomes, strict=True)])
    else:
        print_table(rows, ["name", "action", "ssm_id", "warnings"])
    return 0


def register(sub: Any) -> None:
    """Add the ``aws`` command group."""
    aws = sub.add_parser("aws", help="AWS connector: import resources, export to SSM")
    asub = aws.add_subparsers(dest="aws_command", metavar="COMMAND", required=True)
    imp = asub.add_parser(
        "import",
        help="import an account's EC2, RDS, Lambda, ECS and EKS resources into the server",
        description="Read the account's resources (read-only calls) and send them to the "
        "fleet server as the source aws:ACCOUNT:REGION, replacing the previous import. "
        "Exit 1 when AWS refused a service (the others are imported).",
    )
    imp.add_argument(
        "--services",
        metavar="LIST",
        help="comma-separated, of ec2,rds,lambda,ecs,eks (default: all)",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="print the resources; send nothing to the server"
    )
    _aws_options(imp)
    imp.set_defaults(handler=_import)

    exp = asub.add_parser("export", help="write the server's baselines or windows to SSM")
    esub = exp.add_subparsers(dest="export_kind", metavar="KIND", required=True)
    for kind, what in (("baselines", "patch baselines"), ("windows", "maintenance windows")):
        p = esub.add_parser(kind, help=f"export {what} to SSM (created, updated or unchanged)")
        p.add_argument("names", metavar="NAME", nargs="*", help=f"the {what} to export")
        p.add_argument("--all", action="store_true", help=f"every one of the server's {what}")
        if kind == "baselines":
            p.add_argument(
                "--register-patch-groups",
                action="store_true",
                help="also register in SSM the patch groups the baseline has in Patchwarden",
            )
        _aws_options(p)
        p.set_defaults(handler=_export)
