"""Export Patchwarden patch baselines to SSM, so a mixed fleet has one source of truth.

A baseline is found by its exact name (DescribePatchBaselines, NAME_PREFIX filter): created
when SSM has none (tagged ``patchwarden:managed=true``), else compared with GetPatchBaseline
and replaced (UpdatePatchBaseline, ``Replace=true``) when it differs.  Patchwarden-only
settings are left out, each with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchwarden.adapters.aws.connector.common import call, pages
from patchwarden.adapters.aws.connector.session import aws_errors
from patchwarden.documents.baseline import NO_DELAY_ON_AWS
from patchwarden.documents.ssm_shapes import (
    UPDATABLE_FIELDS,
    baseline_fields,
    comparable,
    patchwarden_only,
)

MANAGED_TAG = {"Key": "patchwarden:managed", "Value": "true"}


@dataclass
class Outcome:
    """What the export did to one object: ``created``, ``updated``, ``unchanged`` or
    ``skipped`` (it cannot exist in SSM; the warnings say why)."""

    name: str
    action: str
    ssm_id: str | None = None
    warnings: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The CLI's table row."""
        return {
            "name": self.name,
            "action": self.action,
            "ssm_id": self.ssm_id or "",
            "warnings": "; ".join(self.warnings),
        }


def _warnings(document: Mapping[str, Any]) -> list[str]:
    out = [f"{s} left out (Patchwarden-only)" for s in patchwarden_only(document)]
    spec = document["spec"]
    if spec["OperatingSystem"] in NO_DELAY_ON_AWS:
        rules = spec.get("ApprovalRules", {}).get("PatchRules", [])
        if any(r.get("ApproveAfterDays") for r in rules):
            out.append(
                f"ApproveAfterDays has no effect in SSM on {spec['OperatingSystem']} "
                "(no release dates; Patchwarden uses first-seen dates)"
            )
    return out


def find_baseline(ssm: Any, name: str) -> str | None:
    """The id of SSM's baseline named exactly ``name``, or None."""
    filters = [{"Key": "NAME_PREFIX", "Values": [name]}]
    for identity in pages(
        ssm, "ssm", "describe_patch_baselines", "BaselineIdentities", Filters=filters
    ):
        if identity.get("BaselineName") == name:
            return str(identity["BaselineId"])
    return None


def _register_groups(
    ssm: Any, baseline_id: str, system: str, groups: Sequence[str]
) -> tuple[bool, list[str]]:
    """Register ``groups`` for the baseline; (whether one was registered, warnings)."""
    from botocore.exceptions import ClientError

    changed, warnings = False, []
    for group in groups:
        current = call(
            ssm,
            "ssm",
            "get_patch_baseline_for_patch_group",
            PatchGroup=group,
            OperatingSystem=system,
        )
        if current.get("BaselineId") == baseline_id:
            continue
        with aws_errors("ssm"):
            try:
                ssm.register_patch_baseline_for_patch_group(
                    BaselineId=baseline_id, PatchGroup=group
                )
                changed = True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise
                warnings.append(
                    f"patch group {group!r} has another {system} baseline in SSM: left as is"
                )
    return changed, warnings


def export_baseline(
    clients: Any, document: Mapping[str, Any], patch_groups: Sequence[str] = ()
) -> Outcome:
    """Create or replace the SSM baseline of a PatchBaseline document; register
    ``patch_groups`` for it."""
    ssm = clients("ssm")
    fields = baseline_fields(document)
    name, system = str(fields["Name"]), str(fields["OperatingSystem"])
    outcome = Outcome(name, "unchanged", warnings=_warnings(document))
    systems = ssm.meta.service_model.shape_for("OperatingSystem").enum
    if system not in systems:
        outcome.action = "skipped"
        outcome.warnings.append(f"SSM has no {system} baselines")
        return outcome
    outcome.ssm_id = find_baseline(ssm, name)
    if outcome.ssm_id is None:
        created = call(ssm, "ssm", "create_patch_baseline", **fields, Tags=[MANAGED_TAG])
        outcome.ssm_id, outcome.action = str(created["BaselineId"]), "created"
    else:
        current = call(ssm, "ssm", "get_patch_baseline", BaselineId=outcome.ssm_id)
        if current.get("OperatingSystem") != system:
            outcome.action = "skipped"
            outcome.warnings.append(
                f"SSM's baseline is for {current.get('OperatingSystem')}: an update cannot "
                "change the OS (delete it in SSM first)"
            )
            return outcome
        if comparable(current) != comparable(fields):
            update = {f: fields[f] for f in UPDATABLE_FIELDS if f in fields}
            call(
                ssm,
                "ssm",
                "update_patch_baseline",
                BaselineId=outcome.ssm_id,
                Name=name,
                Replace=True,
                **update,
            )
            outcome.action = "updated"
    changed, warnings = _register_groups(ssm, outcome.ssm_id, system, patch_groups)
    outcome.warnings.extend(warnings)
    if changed and outcome.action == "unchanged":
        outcome.action = "updated"
    return outcome
