"""The SendCommand body (reference §4, §6), validated: AWS-RunPatchBaseline, and
AWS-UpdateSSMAgent (which upgrades or rolls back the node component)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from patchwarden import wire
from patchwarden.adapters.bundle import VERSION_PATTERN
from patchwarden.core.rollout import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_ERRORS, check_limit
from patchwarden.errors import InputError
from patchwarden.server.schemas import Body

DOCUMENTS = ("AWS-RunPatchBaseline", "RunPatchBaseline")
"""The documents of RunPatchBaseline (a baseline is resolved for them)."""
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TARGET_KEY = re.compile(r"^(InstanceIds|tag:.{1,128}|tag-key|PatchGroup)$")


def _scalar(value: Any) -> Any:
    """AWS parameters are lists of strings: ``["Install"]`` means ``"Install"``."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return value


class OverridePatch(Body):
    """One InstallOverrideList entry: ``id`` = name.arch (globs allowed); ``title`` a
    version glob over ``name.arch:version``."""

    id: str = Field(min_length=1, max_length=256)
    title: str | None = Field(default=None, max_length=500)


class RunParameters(Body):
    """AWS-RunPatchBaseline parameters."""

    Operation: Literal["Scan", "Install"]
    RebootOption: Literal["RebootIfNeeded", "NoReboot"] = "RebootIfNeeded"
    SnapshotId: str = ""
    InstallOverrideList: list[OverridePatch] | None = None
    BaselineOverride: list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _aws_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: _scalar(v) for k, v in data.items()}
            if data.get("InstallOverrideList") in ("", []):
                data["InstallOverrideList"] = None
            if data.get("BaselineOverride") in ("", []):
                data["BaselineOverride"] = None
            patches = data.get("InstallOverrideList")
            if isinstance(patches, dict) and set(patches) == {"patches"}:
                data["InstallOverrideList"] = patches["patches"]
            override = data.get("BaselineOverride")
            if isinstance(override, (dict, str)):
                data["BaselineOverride"] = [override]
        return data

    @field_validator("SnapshotId")
    @classmethod
    def _guid(cls, value: str) -> str:
        if value and not _GUID.match(value):
            raise ValueError("must be empty or a GUID")
        return value

    @model_validator(mode="after")
    def _not_both(self) -> RunParameters:
        if self.InstallOverrideList is not None and self.BaselineOverride is not None:
            raise ValueError(
                "BaselineOverride cannot be combined with InstallOverrideList (as in AWS)"
            )
        return self


class UpdateAgentParameters(Body):
    """AWS-UpdateSSMAgent parameters: the node component's ``version`` (a bundle the server
    holds; default: the server's own) and ``allowDowngrade`` (``"true"`` to roll back)."""

    version: str | None = Field(default=None, pattern=f"^{VERSION_PATTERN}$")
    allowDowngrade: Literal["true", "false"] = "false"

    @model_validator(mode="before")
    @classmethod
    def _aws_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: _scalar(v) for k, v in data.items()}
            if data.get("version") == "":
                data["version"] = None
            if isinstance(data.get("allowDowngrade"), bool):
                data["allowDowngrade"] = "true" if data["allowDowngrade"] else "false"
        return data


class Target(Body):
    """``{Key, Values}``: InstanceIds, ``tag:<K>``, ``tag-key`` or PatchGroup."""

    Key: Annotated[str, Field(pattern=TARGET_KEY.pattern)]
    Values: Annotated[
        list[Annotated[str, Field(max_length=256)]], Field(min_length=1, max_length=50)
    ]


class SendCommand(Body):
    """``POST /api/v1/commands``."""

    DocumentName: Literal["AWS-RunPatchBaseline", "RunPatchBaseline", "AWS-UpdateSSMAgent"] = (
        "AWS-RunPatchBaseline"
    )
    Parameters: RunParameters | UpdateAgentParameters
    InstanceIds: list[str] = Field(default_factory=list, max_length=50)
    Targets: list[Target] = Field(default_factory=list, max_length=5)
    MaxConcurrency: str = DEFAULT_MAX_CONCURRENCY
    MaxErrors: str = DEFAULT_MAX_ERRORS
    TimeoutSeconds: int = Field(default=600, ge=30, le=2_592_000)
    ExecutionTimeoutSeconds: int = Field(default=7200, ge=1, le=172_800)
    Comment: str = Field(default="", max_length=100)

    @field_validator("Parameters", mode="before")
    @classmethod
    def _parameters_of_the_document(cls, value: Any, info: ValidationInfo) -> Any:
        """Parameters are read as the document's (not as whichever model fits)."""
        if isinstance(value, dict):
            agent = info.data.get("DocumentName") == wire.UPDATE_AGENT_DOCUMENT
            return (UpdateAgentParameters if agent else RunParameters).model_validate(value)
        return value

    @model_validator(mode="after")
    def _targets(self) -> SendCommand:
        if bool(self.InstanceIds) == bool(self.Targets):
            raise ValueError("give either InstanceIds or Targets (exactly one)")
        agent = self.DocumentName == wire.UPDATE_AGENT_DOCUMENT
        if agent != isinstance(self.Parameters, UpdateAgentParameters):
            raise ValueError(f"Parameters are not those of {self.DocumentName}")
        for text, concurrency in ((self.MaxConcurrency, True), (self.MaxErrors, False)):
            try:
                check_limit(text, concurrency=concurrency)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self
