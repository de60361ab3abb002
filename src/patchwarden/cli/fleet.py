"""``command send|list|get|cancel``, ``apply -f``, ``get|describe|delete KIND [NAME]``:
clients of the fleet server."""

from __future__ import annotations

import argparse
from typing import Any

from patchwarden.cli.api import add_connection_options
from patchwarden.cli.common import printable

KINDS: dict[str, tuple[str, list[str]]] = {
    "PatchBaseline": (
        "/api/v1/baselines",
        ["name", "baseline_id", "operating_system", "modified_at"],
    ),
    "nodes": ("/api/v1/nodes", ["node_id", "name", "ping_status", "patch_group", "hostname"]),
    "compliance": (
        "/api/v1/compliance",
        [
            "node_id",
            "node_name",
            "compliance",
            "severity",
            "baseline",
            "operation",
            "operation_time",
        ],
    ),
    "commands": (
        "/api/v1/commands",
        [
            "command_id",
            "status",
            "status_details",
            "target_count",
            "completed_count",
            "error_count",
        ],
    ),
    "patch-groups": ("/api/v1/patch-groups", ["patch_group", "operating_system", "baseline"]),
    "activations": (
        "/api/v1/activations",
        ["activation_id", "registration_count", "registration_limit", "expires_at"],
    ),
    "MaintenanceWindow": (
        "/api/v1/windows",
        ["name", "window_id", "enabled", "schedule", "next_execution_time"],
    ),
    "findings": (
        "/api/v1/findings",
        ["node_id", "vulnerability_id", "severity", "status", "package_name", "fixed_version"],
    ),
    "images": (
        "/api/v1/images",
        ["name", "version", "status", "dateCreated", "digest", "findings", "reason"],
    ),
    "Component": ("/api/v1/components", ["name", "version", "modified_at", "created_by"]),
    "ImageRecipe": ("/api/v1/image-recipes", ["name", "version", "modified_at", "created_by"]),
    "ImagePipeline": ("/api/v1/image-pipelines", ["name", "modified_at", "created_by"]),
    "DistributionConfiguration": (
        "/api/v1/distribution-configurations",
        ["name", "modified_at", "created_by"],
    ),
    "LifecyclePolicy": ("/api/v1/lifecycle-policies", ["name", "modified_at", "created_by"]),
    "Suppression": (
        "/api/v1/suppressions",
        ["name", "expires_at", "in_force", "reason"],
    ),
    "Deployment": (
        "/api/v1/deployments",
        ["name", "serving", "instances", "last_run_id", "last_status"],
    ),
}
ALIASES = {
    "baseline": "PatchBaseline",
    "baselines": "PatchBaseline",
    "patchbaseline": "PatchBaseline",
    "node": "nodes",
    "command": "commands",
    "patch-group": "patch-groups",
    "activation": "activations",
    "window": "MaintenanceWindow",
    "windows": "MaintenanceWindow",
    "maintenancewindow": "MaintenanceWindow",
    "finding": "findings",
    "image": "images",
    "component": "Component",
    "components": "Component",
    "imagerecipe": "ImageRecipe",
    "recipe": "ImageRecipe",
    "recipes": "ImageRecipe",
    "imagepipeline": "ImagePipeline",
    "pipeline": "ImagePipeline",
    "pipelines": "ImagePipeline",
    "distributionconfiguration": "DistributionConfiguration",
    "distribution": "DistributionConfiguration",
    "lifecyclepolicy": "LifecyclePolicy",
    "lifecycle-policy": "LifecyclePolicy",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "suppression": "Suppression",
    "suppressions": "Suppression",
}


def _kind(text: str) -> str:
    from patchwarden.errors import InputError

    kind = text if text in KINDS else ALIASES.get(text.lower(), "")
    if not kind:
        raise InputError(f"unknown kind {text!r}: one of {', '.join(KINDS)}")
    return kind


def _get(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    kind = _kind(args.kind)
    if getattr(args, "rules", False):  # get compliance --rules: per governance rule
        from patchwarden.cli.governance import show_rule_compliance

        return show_rule_compliance(args)
    path, columns = KINDS[kind]
    api = ServerApi(args)
    if kind == "findings":  # get findings [NODE]: the node's, or the fleet's
        url = f"/api/v1/nodes/{args.name}/findings" if args.name else path
        found = api.call("GET", url)
        if args.format == "json":
            show(args, found, columns)
        else:
            if args.name and not found.get("findings"):  # not assessed, or no database?
                found = {**found, "vulnerability_database": _database(api)}
            _show_findings(found, columns[1:] if args.name else columns)
    elif kind == "compliance" and args.name and args.format != "json":
        _show_node_compliance(api.call("GET", f"{path}/{args.name}"), columns)
    elif args.name:
        show(args, api.call("GET", f"{path}/{args.name}"), columns)
    else:
        show(args, api.call("GET", path), columns)
    return 0


NON_COMPLIANT_STATES = ("MISSING", "FAILED", "INSTALLED_REJECTED", "INSTALLED_PENDING_REBOOT")
PATCH_COLUMNS = ["name", "arch", "installed_version", "available_version", "state", "severity"]


def _show_node_compliance(view: dict[str, Any], columns: list[str]) -> None:
    """``get compliance NODE``: the summary lines, then the node's non-compliant patches
    (MISSING, FAILED, INSTALLED_REJECTED, INSTALLED_PENDING_REBOOT) as a table."""
    from patchwarden.cli.api import print_table

    for key in columns:
        print(f"{key}: {printable(view.get(key))}")
    patches = [p for p in view.get("patches") or [] if p.get("state") in NON_COMPLIANT_STATES]
    order = {state: n for n, state in enumerate(NON_COMPLIANT_STATES)}
    patches.sort(key=lambda p: (order[p["state"]], str(p.get("name"))))
    if not patches:
        print("patches: none missing or failed")
        return
    print(f"patches: {len(patches)} not compliant")
    print_table(patches, PATCH_COLUMNS)


def _database(api: Any) -> dict[str, Any]:
    """``GET /api/v1/findings/database`` (empty from a server without it)."""
    from patchwarden.errors import PatchwardenError

    try:
        answer = api.call("GET", "/api/v1/findings/database")
    except PatchwardenError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _show_findings(found: dict[str, Any], columns: list[str]) -> None:
    """``get findings [NODE]``: the table, or why there is none (no vulnerability database
    on the server, the node never assessed) instead of an empty table."""
    import sys

    from patchwarden.cli.api import print_table

    database = found.get("vulnerability_database") or {}
    rows = found.get("findings") or []
    missing = database.get("available") is False
    if missing and not rows:
        print(f"no findings: {printable(database.get('message'))}")
        return
    if missing:
        print(f"patchwarden: warning: {printable(database.get('message'))}", file=sys.stderr)
    if not rows and "assessed_at" in found and found.get("assessed_at") is None:
        print("no findings: this node's inventory has not been assessed yet")
        return
    if not rows:
        print("no findings")
        return
    print_table(rows, columns)


def _describe(args: argparse.Namespace) -> int:
    import yaml

    from patchwarden.cli.api import ServerApi, print_json

    path, _ = KINDS[_kind(args.kind)]
    value = ServerApi(args).call("GET", f"{path}/{args.name}")
    if args.format == "json":
        print_json(value)
    else:
        import json

        print(yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False), end="")
    return 0


DELETABLE: dict[str, str] = {
    "PatchBaseline": KINDS["PatchBaseline"][0],
    "nodes": KINDS["nodes"][0],
    "MaintenanceWindow": KINDS["MaintenanceWindow"][0],
    "ConformancePack": "/api/v1/conformance-packs",
    "Rule": "/api/v1/rules",
    "activations": KINDS["activations"][0],
    **{
        kind: KINDS[kind][0]
        for kind in (
            "Component",
            "ImageRecipe",
            "ImagePipeline",
            "DistributionConfiguration",
            "LifecyclePolicy",
            "Deployment",
            "Suppression",
        )
    },
}
"""What ``delete KIND NAME`` removes, and where."""
DELETE_ALIASES = {
    "conformancepack": "ConformancePack",
    "conformance-pack": "ConformancePack",
    "pack": "ConformancePack",
    "rule": "Rule",
}


def _delete(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi
    from patchwarden.errors import InputError

    kind = DELETE_ALIASES.get(args.kind.lower(), args.kind)
    if kind not in DELETABLE:
        kind = _kind(args.kind)
    if kind not in DELETABLE:
        raise InputError(f"delete: {kind} cannot be deleted; one of {', '.join(DELETABLE)} can")
    ServerApi(args).call("DELETE", f"{DELETABLE[kind]}/{args.name}")
    done = "expired (registered nodes stay)" if kind == "activations" else "deleted"
    print(f"{kind} {args.name} {done}")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from pathlib import Path

    from patchwarden.cli.api import ServerApi
    from patchwarden.documents import BaselineDocument, load_documents, to_document
    from patchwarden.documents.component import ComponentDocument
    from patchwarden.documents.governance import (
        ConformancePackDocument,
        RuleDocument,
        RunbookDocument,
    )
    from patchwarden.documents.image import (
        DistributionDocument,
        ImagePipelineDocument,
        ImageRecipeDocument,
        LifecyclePolicyDocument,
    )
    from patchwarden.documents.window import WindowDocument
    from patchwarden.errors import InputError

    docs = load_documents(Path(args.file))
    raw = []
    kept = (
        WindowDocument,
        RuleDocument,
        RunbookDocument,
        ConformancePackDocument,
        ComponentDocument,
        ImageRecipeDocument,
        ImagePipelineDocument,
        DistributionDocument,
        LifecyclePolicyDocument,
    )
    for doc in docs:
        if isinstance(doc, kept):
            raw.append(doc.to_json())
            continue
        if not isinstance(doc, BaselineDocument):
            raise InputError(f"{doc.source}: kind {doc.kind} is not kept by the server")
        raw.append(to_document(doc.baseline, doc.labels or None))
    applied = ServerApi(args).call("POST", "/api/v1/apply", json=raw)["applied"]
    for item in applied:
        print(printable(f"{item['kind']} {item['name']} {item['result']}"))
        for line in item.get("automatic_actions") or []:
            print(printable(f"  {line}"))
    return 0


def _target_options(p: argparse.ArgumentParser) -> None:
    """Which nodes a command goes to, and at what pace."""
    p.add_argument("--instance-ids", nargs="+", metavar="ID", help="target these nodes")
    p.add_argument("--tag", action="append", metavar="K=V", help="target nodes with this tag")
    p.add_argument(
        "--patch-group", action="append", metavar="GROUP", help="target a patch group (repeatable)"
    )
    p.add_argument("--all", action="store_true", help="every registered node")
    p.add_argument(
        "--max-concurrency",
        default="50",
        help="nodes at a time: a number or a percentage (default 50)",
    )
    p.add_argument(
        "--max-errors",
        default="0",
        help="errors before stopping: a number or a percentage (default 0)",
    )
    p.add_argument("--timeout-seconds", type=int, default=600, help="delivery timeout")
    p.add_argument("--comment", help="a comment stored with the command")


def _targeted(args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the nodes the options name (``InstanceIds`` / ``Targets``) and the rate
    control; an :class:`InputError` when no node is named."""
    from patchwarden.agent.register import parse_tags

    body = {
        **body,
        "MaxConcurrency": args.max_concurrency,
        "MaxErrors": args.max_errors,
        "TimeoutSeconds": args.timeout_seconds,
        "Comment": args.comment or "",
    }
    targets = [{"Key": f"tag:{k}", "Values": [v]} for k, v in parse_tags(args.tag or []).items()]
    if args.patch_group:
        targets.append({"Key": "PatchGroup", "Values": args.patch_group})
    if args.all:
        targets.append({"Key": "InstanceIds", "Values": ["*"]})
    if args.instance_ids:
        body["InstanceIds"] = args.instance_ids
    if targets:
        body["Targets"] = targets
    if not args.instance_ids and not targets:
        from patchwarden.errors import InputError

        raise InputError(
            f"command {args.command_action}: name the nodes: --instance-ids ID..., --tag K=V, "
            "--patch-group GROUP or --all"
        )
    return body


def _send(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    params: dict[str, Any] = {"Operation": args.operation, "RebootOption": args.reboot_option}
    if args.snapshot_id:
        params["SnapshotId"] = args.snapshot_id
    if args.baseline_override:
        params["BaselineOverride"] = args.baseline_override
    if args.install_override:
        params["InstallOverrideList"] = [{"id": i} for i in args.install_override]
    body = _targeted(args, {"Parameters": params})
    sent = ServerApi(args).call("POST", "/api/v1/commands", json=body)
    show(args, sent, ["command_id", "status", "target_count"])
    return 0


def _update_agent(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    params: dict[str, Any] = {"allowDowngrade": "true" if args.allow_downgrade else "false"}
    if args.version:
        params["version"] = args.version
    body = _targeted(args, {"DocumentName": "AWS-UpdateSSMAgent", "Parameters": params})
    sent = ServerApi(args).call("POST", "/api/v1/commands", json=body)
    show(args, sent, ["command_id", "status", "target_count"])
    return 0


def _command(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, print_table, show

    api = ServerApi(args)
    if args.command_action == "list":
        show(args, api.call("GET", "/api/v1/commands"), KINDS["commands"][1])
        return 0
    if args.command_action == "cancel":
        show(args, api.call("POST", f"/api/v1/commands/{args.id}/cancel"), ["command_id", "status"])
        return 0
    cmd = api.call("GET", f"/api/v1/commands/{args.id}")
    show(args, cmd, KINDS["commands"][1])
    if args.format == "table":
        print()
        print_table(cmd["invocations"], ["node_id", "status", "status_details", "baseline"])
    return 0


def _tag(args: argparse.Namespace) -> int:
    from patchwarden.agent.register import parse_tags
    from patchwarden.cli.api import ServerApi, print_json
    from patchwarden.errors import InputError

    api = ServerApi(args)
    node = api.call("GET", f"/api/v1/nodes/{args.node}")
    tags = dict(node.get("tags") or {})
    if args.tag_action == "add":
        tags.update(parse_tags(args.tags))
    else:
        for item in args.tags:
            key, _, value = item.partition("=")
            if key not in tags:
                raise InputError(f"node {args.node} has no tag {key!r}")
            if value and tags[key] != value:
                raise InputError(f"node {args.node}: tag {key!r} is {tags[key]!r}, not {value!r}")
            del tags[key]
    changed = api.call("PUT", f"/api/v1/nodes/{args.node}/tags", json={"tags": tags})
    if args.format == "json":
        print_json(changed)
    else:
        for key, value in sorted((changed.get("tags") or {}).items()):
            print(printable(f"{key}={value}"))
    return 0


def register(sub: Any) -> None:
    """Add ``command``, ``tag``, ``apply``, ``get``, ``describe`` and ``delete``."""
    tag = sub.add_parser("tag", help="add or remove tags of a registered node")
    tsub = tag.add_subparsers(dest="tag_action", metavar="ACTION", required=True)
    for name, helptext, metavar in (
        ("add", "add or change tags (KEY=VALUE)", "K=V"),
        ("remove", "remove tags (KEY, or KEY=VALUE to remove only that value)", "K[=V]"),
    ):
        p = tsub.add_parser(name, help=helptext)
        p.add_argument("node", metavar="NODE_ID", help="the node (mi-…)")
        p.add_argument(
            "tags", nargs="+", metavar=metavar, help="tags (KEY=VALUE to add, KEY to remove)"
        )
        add_connection_options(p)
        p.set_defaults(handler=_tag)
    cmd = sub.add_parser("command", help="commands on the fleet (RunPatchBaseline, UpdateSSMAgent)")
    csub = cmd.add_subparsers(dest="command_action", metavar="COMMAND", required=True)
    send = csub.add_parser("send", help="send AWS-RunPatchBaseline")
    send.add_argument(
        "--operation", required=True, choices=("Scan", "Install"), help="RunPatchBaseline Operation"
    )
    send.add_argument(
        "--reboot-option",
        default="RebootIfNeeded",
        choices=("RebootIfNeeded", "NoReboot"),
        help="after an Install (AWS RebootOption; default RebootIfNeeded)",
    )
    _target_options(send)
    send.add_argument("--snapshot-id", help="pin one baseline evaluation (a GUID)")
    send.add_argument(
        "--baseline-override",
        action="append",
        metavar="BASELINE",
        help="judge against this server baseline instead (BaselineOverride)",
    )
    send.add_argument(
        "--install-override",
        action="append",
        metavar="NAME.ARCH",
        help="Install exactly these patches (InstallOverrideList; repeatable)",
    )
    add_connection_options(send)
    send.set_defaults(handler=_send)
    update = csub.add_parser(
        "update-agent",
        help="send AWS-UpdateSSMAgent: move node components to a bundle version the server holds",
    )
    update.add_argument(
        "--version", help="a version of GET /agent/bundles (default: the server's own)"
    )
    update.add_argument(
        "--allow-downgrade", action="store_true", help="allow an older version (a rollback)"
    )
    _target_options(update)
    add_connection_options(update)
    update.set_defaults(handler=_update_agent)
    for name, helptext in (
        ("list", "list commands"),
        ("get", "a command and its invocations"),
        ("cancel", "cancel a command"),
    ):
        p = csub.add_parser(name, help=helptext)
        if name != "list":
            p.add_argument("id", metavar="COMMAND_ID", help="the command")
        add_connection_options(p)
        p.set_defaults(handler=_command)

    apply = sub.add_parser("apply", help="create or update documents on the server")
    apply.add_argument(
        "-f", "--file", required=True, metavar="FILE|DIR", help="documents to create or replace"
    )
    add_connection_options(apply)
    apply.set_defaults(handler=_apply)
    for verb, handler, need_name in (
        ("get", _get, False),
        ("describe", _describe, True),
        ("delete", _delete, True),
    ):
        kinds = DELETABLE if verb == "delete" else KINDS
        p = sub.add_parser(verb, help=f"{verb} server resources ({', '.join(kinds)})")
        p.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(kinds)}")
        p.add_argument(
            "name",
            metavar="NAME",
            nargs=None if need_name else "?",
            help="the resource's name or id" + ("" if need_name else " (default: list them)"),
        )
        if verb == "get":
            p.add_argument("--rules", action="store_true", help="compliance per rule")
        add_connection_options(p)
        p.set_defaults(handler=handler)
