"""Documents and helpers for the governance API tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fleet_helpers import Api

from patchwarden.server import governance

ENVELOPE = {"apiVersion": "patchwarden/v1"}


def rule(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {**ENVELOPE, "kind": "Rule", "metadata": {"name": name}, "spec": spec}


def runbook(name: str, steps: list[dict[str, Any]], **params: dict[str, Any]) -> dict[str, Any]:
    spec = {"parameters": {"NodeId": {"type": "String"}, **params}, "mainSteps": steps}
    return {**ENVELOPE, "kind": "Runbook", "metadata": {"name": name}, "spec": spec}


def remediation(runbook_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "TargetId": runbook_name,
        "Parameters": {"NodeId": {"ResourceValue": {"Value": "RESOURCE_ID"}}},
        "Automatic": True,
        **extra,
    }


TAG_RUNBOOK = runbook(
    "tag-default",
    [
        {
            "name": "tag",
            "action": "addTags",
            "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Patch Group": "default"}},
        }
    ],
)
TAG_RULE = rule(
    "patch-group-tag",
    {
        "Type": "required-tags",
        "Parameters": {"TagKeys": ["Patch Group"]},
        "Remediation": remediation("tag-default"),
    },
)
INSTALL_RUNBOOK = runbook(
    "install",
    [
        {
            "name": "install",
            "action": "runCommand",
            "inputs": {
                "DocumentName": "RunPatchBaseline",
                "NodeId": "{{NodeId}}",
                "Parameters": {"Operation": "Install"},
            },
        }
    ],
)
PATCH_RULE = rule(
    "patched",
    {"Type": "patch-compliance-status", "Remediation": remediation("install")},
)


def apply(api: Api, *documents: dict[str, Any], token: str | None = None) -> Any:
    return api.ok("POST", "/api/v1/apply", token, json=list(documents))


def tick(api: Api) -> Counter[str]:
    return governance.tick(api.client.app.state.db, api.clock.now())


def latest(api: Api, rule_name: str, node_id: str) -> str:
    found = api.ok("GET", "/api/v1/rule-compliance")["rules"]
    by_rule = {r["rule"]: r["resources"] for r in found}
    return str(by_rule[rule_name].get(node_id, "none"))
