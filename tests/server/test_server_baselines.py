"""Baselines, AWS JSON import, patch groups, defaults and ``apply``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet_helpers import Api, error_of


def document(name: str = "web-baseline", os_name: str = "DEBIAN") -> dict[str, Any]:
    return {
        "apiVersion": "patchwarden/v1",
        "kind": "PatchBaseline",
        "metadata": {"name": name},
        "spec": {
            "OperatingSystem": os_name,
            "ApprovalRules": {
                "PatchRules": [
                    {
                        "PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]},
                        "ApproveAfterDays": 0,
                        "EnableNonSecurity": True,
                    }
                ]
            },
        },
    }


def test_crud(api: Api) -> None:
    op = api.token("operator")
    made = api.ok("PUT", "/api/v1/baselines/web-baseline", op, json=document())
    assert made["created"] and made["baseline_id"].startswith("pb-")
    again = api.ok("PUT", "/api/v1/baselines/web-baseline", op, json=document())
    assert not again["created"] and again["baseline_id"] == made["baseline_id"]
    shown = api.ok("GET", "/api/v1/baselines/web-baseline", api.token("viewer"))
    assert shown["document"]["spec"]["OperatingSystem"] == "DEBIAN"
    assert [b["name"] for b in api.ok("GET", "/api/v1/baselines")] == ["web-baseline"]
    api.ok("DELETE", "/api/v1/baselines/web-baseline", op)
    assert error_of(api.call("GET", "/api/v1/baselines/web-baseline")) == (404, "not_found")
    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit") if "baseline" in e["action"]]
    assert actions == ["baseline.delete", "baseline.update", "baseline.create"]


def test_invalid_documents_are_400_with_the_field_path(api: Api) -> None:
    bad = document()
    bad["spec"]["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = 400
    r = api.call("PUT", "/api/v1/baselines/web-baseline", json=bad)
    assert error_of(r) == (400, "invalid_request")
    assert "ApproveAfterDays" in r.json()["error"]["message"]
    r = api.call("PUT", "/api/v1/baselines/other", json=document())
    assert "differs" in r.json()["error"]["message"]
    api.ok("PUT", "/api/v1/baselines/web-baseline", json=document())
    r = api.call("PUT", "/api/v1/baselines/web-baseline", json=document(os_name="UBUNTU"))
    assert error_of(r)[0] == 400 and "cannot be changed" in r.json()["error"]["message"]
    assert error_of(api.call("PUT", "/api/v1/baselines/x", json=[1, 2])) == (400, "invalid_request")


def test_import_aws_json(api: Api, data_dir: Path) -> None:
    raw = json.loads((data_dir / "aws-get-patch-baseline.json").read_text())
    made = api.ok("POST", "/api/v1/baselines/import", json=raw)
    assert made["name"] == raw["Name"] and made["created"]
    assert made["document"]["spec"]["OperatingSystem"] == raw["OperatingSystem"]


def test_patch_group_registration_is_one_per_group_and_os(api: Api) -> None:
    api.ok("PUT", "/api/v1/baselines/web-baseline", json=document())
    api.ok("PUT", "/api/v1/baselines/web-2", json=document("web-2"))
    api.ok("PUT", "/api/v1/baselines/web-ubuntu", json=document("web-ubuntu", "UBUNTU"))
    reg = {"patch_group": "web", "baseline": "web-baseline"}
    assert api.ok("POST", "/api/v1/patch-groups", json=reg)["operating_system"] == "DEBIAN"
    again = api.call("POST", "/api/v1/patch-groups", json={**reg, "baseline": "web-2"})
    assert error_of(again) == (409, "already_exists")
    api.ok("POST", "/api/v1/patch-groups", json={**reg, "baseline": "web-ubuntu"})
    assert len(api.ok("GET", "/api/v1/patch-groups")) == 2
    busy = api.call("DELETE", "/api/v1/baselines/web-baseline")
    assert error_of(busy) == (409, "conflict")
    api.ok(
        "DELETE",
        "/api/v1/patch-groups",
        params={"patch_group": "web", "operating_system": "DEBIAN"},
    )
    api.ok("DELETE", "/api/v1/baselines/web-baseline")


def test_default_baseline_per_os(api: Api) -> None:
    api.ok("PUT", "/api/v1/baselines/web-baseline", json=document())
    r = api.call("PUT", "/api/v1/default-baselines/UBUNTU", json={"baseline": "web-baseline"})
    assert error_of(r) == (400, "invalid_request")
    api.ok("PUT", "/api/v1/default-baselines/DEBIAN", json={"baseline": "web-baseline"})
    assert api.ok("GET", "/api/v1/default-baselines")[0]["baseline"] == "web-baseline"
    assert api.ok("GET", "/api/v1/baselines/web-baseline")["default_for_operating_system"]
    api.ok("DELETE", "/api/v1/default-baselines/DEBIAN")
    assert api.ok("GET", "/api/v1/default-baselines") == []


def test_apply_is_all_or_nothing(api: Api) -> None:
    docs = [document("a-baseline"), document("b-baseline")]
    applied = api.ok("POST", "/api/v1/apply", json=docs)["applied"]
    assert [a["result"] for a in applied] == ["created", "created"]
    broken = [document("c-baseline"), {"apiVersion": "patchwarden/v1", "kind": "Nope"}]
    assert error_of(api.call("POST", "/api/v1/apply", json=broken)) == (400, "invalid_request")
    names = [b["name"] for b in api.ok("GET", "/api/v1/baselines")]
    assert names == ["a-baseline", "b-baseline"]
    viewer = api.token("viewer")
    assert error_of(api.call("POST", "/api/v1/apply", viewer, json=docs)) == (403, "forbidden")
