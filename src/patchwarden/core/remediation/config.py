"""Remediation configurations (reference §8.2) from plain values, AWS field names::

ConfigRuleName: required-patch-group
TargetId: tag-default-patch-group          # the runbook
Parameters:
  NodeId: {ResourceValue: {Value: RESOURCE_ID}}
  PatchGroup: {StaticValue: {Values: [default]}}
Automatic: true
MaximumAutomaticAttempts: 5                # 1 to 25
RetryAttemptSeconds: 60                    # 1 to 2,678,000
GracePeriodSeconds: 0                      # mark-for-op delay before an automatic run
ExceptionExpirySeconds: 604800             # automatic exceptions last (none: until cleared)
ExecutionControls: {SsmControls: {ConcurrentExecutionRatePercentage: 10, ErrorPercentage: 50}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import floor

from patchwarden.errors import InputError

RESOURCE_ID = "RESOURCE_ID"
_FIELDS = {
    "ConfigRuleName",
    "TargetType",
    "TargetId",
    "TargetVersion",
    "ResourceType",
    "Parameters",
    "Automatic",
    "MaximumAutomaticAttempts",
    "RetryAttemptSeconds",
    "ExecutionControls",
    "GracePeriodSeconds",
    "ExceptionExpirySeconds",
}


@dataclass(frozen=True)
class RemediationConfig:
    """One rule's remediation: which runbook, with which parameters, how automatically."""

    rule: str
    runbook: str
    parameters: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    """Runbook parameter → static values, or ``None`` for the resource's id (RESOURCE_ID)."""
    automatic: bool = False
    maximum_automatic_attempts: int = 5
    retry_attempt_seconds: int = 60
    grace_seconds: int = 0
    exception_seconds: int | None = None
    concurrency_percentage: int = 10
    error_percentage: int = 50

    def runbook_parameters(self, resource_id: str) -> dict[str, object]:
        """The parameters of a run for ``resource_id`` (one static value → a string)."""
        values: dict[str, object] = {}
        for name, static in self.parameters.items():
            if static is None:
                values[name] = resource_id
            else:
                values[name] = static[0] if len(static) == 1 else list(static)
        return values


def _bounded(
    raw: Mapping[str, object], key: str, low: int, high: int, default: int, where: str
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{where}.{key}: must be an integer from {low} to {high}, got {value!r}")
    return value


def _parameters(raw: object, where: str) -> dict[str, tuple[str, ...] | None]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > 25:
        raise InputError(f"{where}: must be a mapping of at most 25 parameters")
    result: dict[str, tuple[str, ...] | None] = {}
    for name, value in raw.items():
        at = f"{where}.{name}"
        if isinstance(value, Mapping) and set(value) == {"ResourceValue"}:
            inner = value["ResourceValue"]
            if not isinstance(inner, Mapping) or inner.get("Value") != RESOURCE_ID:
                raise InputError(f"{at}.ResourceValue.Value: must be {RESOURCE_ID}")
            result[str(name)] = None
        elif isinstance(value, Mapping) and set(value) == {"StaticValue"}:
            inner = value["StaticValue"]
            values = inner.get("Values") if isinstance(inner, Mapping) else None
            if not isinstance(values, list) or not 1 <= len(values) <= 25:
                raise InputError(f"{at}.StaticValue.Values: must be a list of 1 to 25 values")
            result[str(name)] = tuple(str(v) for v in values)
        else:
            raise InputError(
                f"{at}: must be {{StaticValue: {{Values: [...]}}}} or "
                f"{{ResourceValue: {{Value: {RESOURCE_ID}}}}}"
            )
    return result


def parse_remediation(
    raw: object, where: str = "spec", rule: str | None = None
) -> RemediationConfig:
    """A :class:`RemediationConfig`; ``rule`` fills ConfigRuleName when the context names it."""
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    rule_name = raw.get("ConfigRuleName", rule)
    if not isinstance(rule_name, str) or not rule_name:
        raise InputError(f"{where}.ConfigRuleName: required field is missing")
    runbook = raw.get("TargetId")
    if not isinstance(runbook, str) or not runbook:
        raise InputError(f"{where}.TargetId: required field is missing (the runbook's name)")
    if raw.get("TargetType", "SSM_DOCUMENT") not in ("SSM_DOCUMENT", "RUNBOOK"):
        raise InputError(f"{where}.TargetType: must be SSM_DOCUMENT")
    automatic = raw.get("Automatic", False)
    if not isinstance(automatic, bool):
        raise InputError(f"{where}.Automatic: must be true or false")
    controls = raw.get("ExecutionControls", {})
    ssm = controls.get("SsmControls", {}) if isinstance(controls, Mapping) else None
    if not isinstance(ssm, Mapping):
        raise InputError(f"{where}.ExecutionControls.SsmControls: must be a mapping")
    at = f"{where}.ExecutionControls.SsmControls"
    expiry = raw.get("ExceptionExpirySeconds")
    if expiry is not None and (
        isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1
    ):
        raise InputError(f"{where}.ExceptionExpirySeconds: must be a positive integer")
    return RemediationConfig(
        rule=rule_name,
        runbook=runbook,
        parameters=_parameters(raw.get("Parameters"), f"{where}.Parameters"),
        automatic=automatic,
        maximum_automatic_attempts=_bounded(raw, "MaximumAutomaticAttempts", 1, 25, 5, where),
        retry_attempt_seconds=_bounded(raw, "RetryAttemptSeconds", 1, 2_678_000, 60, where),
        grace_seconds=_bounded(raw, "GracePeriodSeconds", 0, 30 * 86400, 0, where),
        exception_seconds=expiry,
        concurrency_percentage=_bounded(ssm, "ConcurrentExecutionRatePercentage", 1, 100, 10, at),
        error_percentage=_bounded(ssm, "ErrorPercentage", 1, 100, 50, at),
    )


# -- execution controls across resources (SsmControls) -------------------------------------


def concurrency_limit(config: RemediationConfig, targets: int) -> int:
    """``ConcurrentExecutionRatePercentage`` of the resources in scope (floor, at least 1)."""
    return max(1, floor(targets * config.concurrency_percentage / 100))


def errors_exceeded(config: RemediationConfig, targets: int, failed: int) -> bool:
    """Whether failed runs exceed ``ErrorPercentage`` of the resources in scope."""
    return targets > 0 and failed * 100 > config.error_percentage * targets


def admit(config: RemediationConfig, targets: int, running: int, failed: int, queued: int) -> int:
    """How many of ``queued`` runs may start now (0 once errors exceeded the threshold)."""
    if errors_exceeded(config, targets, failed):
        return 0
    return max(0, min(queued, concurrency_limit(config, targets) - running))
