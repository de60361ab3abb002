"""``MaintenanceWindow`` documents (AWS field names; reference §5)::

apiVersion: patchwarden/v1
kind: MaintenanceWindow
metadata: {name: sunday-patching}
spec:
  Schedule: cron(0 2 ? * SUN *)
  ScheduleTimezone: Europe/Berlin
  Duration: 3
  Cutoff: 1
  Targets: [{Key: tag:Role, Values: [web]}]
  Tasks:
    - Name: patch
      TaskArn: AWS-RunPatchBaseline
      Priority: 1
      MaxConcurrency: [1, "10%", "50%"]    # or "10%" / "2"
      MaxErrors: "1"
      CutoffBehavior: CANCEL_TASK
      PauseBetweenWavesSeconds: 60
      RebootCoordination: {MaxRebootingPerGroup: 1}
      TaskInvocationParameters:
        RunCommand:
          Parameters: {Operation: Install, RebootOption: RebootIfNeeded}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from patchwarden.core import rollout, waves, windows
from patchwarden.documents.envelope import Metadata, StrictModel, stored, translate
from patchwarden.errors import InputError

KIND = "MaintenanceWindow"
_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{3,128}$")
_TARGET_KEY = re.compile(r"^(InstanceIds|tag:.{1,128}|tag-key|PatchGroup)$")
KNOWN_DOCUMENTS = ("AWS-RunPatchBaseline", "RunPatchBaseline")


class TargetSpec(StrictModel):
    """``{Key, Values}``: InstanceIds, ``tag:<K>``, ``tag-key`` or PatchGroup."""

    Key: str = Field(pattern=_TARGET_KEY.pattern)
    Values: list[str] = Field(min_length=1, max_length=50)


class RegisteredTarget(StrictModel):
    """A registered window target (AWS's RegisterTargetWithMaintenanceWindow): one
    selector with its own id, named by tasks' ``WindowTargetIds``."""

    WindowTargetId: str = Field(pattern=r"^[a-zA-Z0-9_.\-]{1,36}$")
    Targets: list[TargetSpec] = Field(min_length=1, max_length=5)
    ResourceType: Literal["INSTANCE"] = "INSTANCE"
    Name: str | None = Field(default=None, pattern=_NAME.pattern)
    Description: str | None = Field(default=None, min_length=1, max_length=128)
    OwnerInformation: str | None = Field(default=None, min_length=1, max_length=128)


class Hook(StrictModel):
    """A command document run on each node of a wave before (or after) the task's own."""

    DocumentName: Literal["AWS-RunPatchBaseline", "RunPatchBaseline"]
    Parameters: dict[str, Any]


class RebootSpec(StrictModel):
    """Never more than N nodes of one patch group in a wave (they may reboot at once)."""

    MaxRebootingPerGroup: int = Field(ge=1)


class RunCommandSpec(StrictModel):
    """``TaskInvocationParameters.RunCommand``."""

    Parameters: dict[str, Any]
    Comment: str = Field(default="", max_length=100)
    TimeoutSeconds: int | None = Field(default=None, ge=30, le=2_592_000)


class AutomationSpec(StrictModel):
    """``TaskInvocationParameters.Automation``: the runbook's parameters (pseudo-parameters,
    including ``{{TARGET_ID}}`` / ``{{RESOURCE_ID}}``, are filled in per target node)."""

    Parameters: dict[str, Any] = Field(default_factory=dict)
    DocumentVersion: str | None = Field(default=None, pattern=r"^(\$DEFAULT|\$LATEST)$")


class InvocationSpec(StrictModel):
    """``TaskInvocationParameters``: ``RunCommand`` for RUN_COMMAND tasks, ``Automation``
    for AUTOMATION tasks."""

    RunCommand: RunCommandSpec | None = None
    Automation: AutomationSpec | None = None


class TaskSpec(StrictModel):
    """One task: a rate-controlled RunPatchBaseline (RUN_COMMAND) or runbook executions
    (AUTOMATION, ``TaskArn`` names a Runbook)."""

    Name: str
    WindowTaskId: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_.\-]{1,36}$")
    """The task's id as the AWS API shows it (its own when registered there)."""
    Description: str | None = Field(default=None, min_length=1, max_length=128)
    TaskType: Literal["RUN_COMMAND", "AUTOMATION"] = "RUN_COMMAND"
    TaskArn: str = Field(default="AWS-RunPatchBaseline", min_length=1, max_length=1600)
    Priority: int = Field(default=1, ge=0)
    MaxConcurrency: str | list[int | str] | None = None
    MaxErrors: str | None = None
    CutoffBehavior: Literal["CONTINUE_TASK", "CANCEL_TASK"] = "CONTINUE_TASK"
    Targets: list[TargetSpec] | None = Field(default=None, max_length=5)
    """``None``: the window's targets; ``[]`` (AUTOMATION only): targetless, one execution."""
    WindowTargetIds: list[str] | None = Field(default=None, min_length=1, max_length=5)
    """Registered window targets (``spec.WindowTargets``) instead of ``Targets``: their
    nodes' waves run one target after another."""
    TaskInvocationParameters: InvocationSpec
    PauseBetweenWavesSeconds: int = Field(default=0, ge=0, le=86_400)
    PreHook: Hook | None = None
    PostHook: Hook | None = None
    RebootCoordination: RebootSpec | None = None

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 3-128 characters of a-z A-Z 0-9 _ - .")
        return value

    @property
    def targetless(self) -> bool:
        """An AUTOMATION task with ``Targets: []``: one execution, no target node."""
        return self.Targets is not None and not self.Targets

    @property
    def concurrency(self) -> str | list[int | str]:
        """MaxConcurrency as run (default 50; a targetless task stores 1, as AWS)."""
        if self.MaxConcurrency is None:
            return "1" if self.targetless else rollout.DEFAULT_MAX_CONCURRENCY
        return self.MaxConcurrency

    @property
    def errors(self) -> str:
        """MaxErrors as run (default 0; a targetless task stores 1, as AWS)."""
        if self.MaxErrors is None:
            return "1" if self.targetless else rollout.DEFAULT_MAX_ERRORS
        return self.MaxErrors

    @property
    def run_command(self) -> RunCommandSpec:
        """``TaskInvocationParameters.RunCommand`` of a RUN_COMMAND task."""
        spec = self.TaskInvocationParameters.RunCommand
        assert spec is not None, "not a RUN_COMMAND task"
        return spec

    @property
    def automation(self) -> AutomationSpec:
        """``TaskInvocationParameters.Automation`` of an AUTOMATION task."""
        return self.TaskInvocationParameters.Automation or AutomationSpec()

    @model_validator(mode="after")
    def _limits(self) -> TaskSpec:
        try:
            if self.WindowTargetIds is not None and self.Targets is not None:
                raise InputError("WindowTargetIds: give either Targets or WindowTargetIds")
            if self.MaxConcurrency is not None:
                waves.check_concurrency(self.MaxConcurrency)
            if self.MaxErrors is not None:
                rollout.check_limit(self.MaxErrors, concurrency=False)
            if self.TaskType == "AUTOMATION":
                self._check_automation()
            else:
                self._check_run_command()
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return self

    def _check_run_command(self) -> None:
        if self.TaskArn not in KNOWN_DOCUMENTS:
            raise InputError(
                f"TaskArn: a RUN_COMMAND task runs one of {', '.join(KNOWN_DOCUMENTS)}, "
                f"got {self.TaskArn!r}"
            )
        if self.targetless:
            raise InputError("Targets: a RUN_COMMAND task needs targets (omit them or give some)")
        invocation = self.TaskInvocationParameters
        if invocation.RunCommand is None or invocation.Automation is not None:
            raise InputError(
                "TaskInvocationParameters: a RUN_COMMAND task takes RunCommand (and not Automation)"
            )
        params = invocation.RunCommand.Parameters
        if params.get("Operation") not in ("Scan", "Install", ["Scan"], ["Install"]):
            raise InputError(
                "TaskInvocationParameters.RunCommand.Parameters.Operation: must be Scan or Install"
            )
        windows.check_pseudo(params, "TaskInvocationParameters.RunCommand.Parameters")

    def _check_automation(self) -> None:
        if self.TaskInvocationParameters.RunCommand is not None:
            raise InputError(
                "TaskInvocationParameters.RunCommand: an AUTOMATION task takes Automation"
            )
        for name, given in (
            ("PreHook", self.PreHook),
            ("PostHook", self.PostHook),
            ("RebootCoordination", self.RebootCoordination),
        ):
            if given is not None:
                raise InputError(f"{name}: only RUN_COMMAND tasks have it")
        if self.targetless:
            for name, value in (
                ("MaxConcurrency", self.MaxConcurrency),
                ("MaxErrors", self.MaxErrors),
            ):
                if value is not None:
                    raise InputError(f"{name}: must be omitted for a targetless task (Targets: [])")
        names = windows.PSEUDO_NAMES if self.targetless else windows.AUTOMATION_PSEUDO_NAMES
        windows.check_pseudo(
            self.automation.Parameters, "TaskInvocationParameters.Automation.Parameters", names
        )


def _iso(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class WindowSpec(StrictModel):
    """``spec`` of a ``MaintenanceWindow``."""

    Schedule: str = Field(min_length=1, max_length=256)
    ScheduleTimezone: str = "UTC"
    ScheduleOffset: int | None = Field(default=None, ge=1, le=6)
    Duration: int = Field(ge=1, le=24)
    Cutoff: int = Field(ge=0, le=23)
    AllowUnassociatedTargets: bool = False
    StartDate: str | None = None
    EndDate: str | None = None
    Enabled: bool = True
    Targets: list[TargetSpec] = Field(default_factory=list, max_length=5)
    """The window's own selector (empty: none; tasks then name registered targets or
    their own Targets)."""
    WindowTargets: list[RegisteredTarget] = Field(default_factory=list, max_length=100)
    Tasks: list[TaskSpec] = Field(default_factory=list, max_length=20)

    @field_validator("StartDate", "EndDate", mode="before")
    @classmethod
    def _dates(cls, value: object) -> object:
        # YAML reads an unquoted 2026-06-30 as a date: keep the text
        return _iso(value)

    @model_validator(mode="after")
    def _unique_tasks(self) -> WindowSpec:
        names = [t.Name for t in self.Tasks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"Tasks: task name {name!r} is given twice")
        ids = [t.WindowTaskId for t in self.Tasks if t.WindowTaskId]
        if len(set(ids)) != len(ids):
            raise ValueError("Tasks: a WindowTaskId is given twice")
        registered = [t.WindowTargetId for t in self.WindowTargets]
        if len(set(registered)) != len(registered):
            raise ValueError("WindowTargets: a WindowTargetId is given twice")
        for task in self.Tasks:
            for target_id in task.WindowTargetIds or []:
                if target_id not in registered:
                    raise ValueError(
                        f"Tasks: task {task.Name!r} names WindowTargetId {target_id!r}, "
                        "which is not in WindowTargets"
                    )
        return self

    def registered(self, target_id: str) -> RegisteredTarget:
        """The registered target ``target_id`` (validated to exist)."""
        return next(t for t in self.WindowTargets if t.WindowTargetId == target_id)


def parse_date(text: str | None, field: str) -> datetime | None:
    """An ISO-8601 date or date-time (no zone: UTC)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"spec.{field}: not an ISO-8601 date or date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def timing(spec: WindowSpec, anchor: datetime | None = None) -> windows.Timing:
    """The window's timing as the core sees it.

    ``anchor`` (the window's creation time) stands in for a missing StartDate, and for a
    StartDate in the past (AWS starts such a window at the current time: the start is
    max(StartDate, creation)): rate schedules run on a grid from it, and a ScheduleOffset's
    "skip this period" rule is applied once from it rather than again from every previous run
    (which would lose runs of a daily cron with a longer offset).
    """
    start = parse_date(spec.StartDate, "StartDate")
    if start is None or (anchor is not None and anchor > start):
        start = anchor
    return windows.Timing(
        schedule=spec.Schedule,
        duration_hours=spec.Duration,
        cutoff_hours=spec.Cutoff,
        timezone=spec.ScheduleTimezone,
        offset_days=spec.ScheduleOffset,
        start=start,
        end=parse_date(spec.EndDate, "EndDate"),
    )


@dataclass(frozen=True)
class WindowDocument:
    """A loaded ``MaintenanceWindow``."""

    name: str
    spec: WindowSpec
    source: str
    description: str | None = None
    kind: str = KIND

    def to_json(self) -> dict[str, Any]:
        """The document as stored (and served back)."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        if not spec["WindowTargets"]:  # documents without registered targets stay as they were
            del spec["WindowTargets"]
        return stored(KIND, self.name, spec, self.description)


def spec_of(raw: object) -> WindowSpec:
    """A stored ``spec`` (JSON) back as a model."""
    return WindowSpec.model_validate(raw, strict=False)


def load_window_document(metadata: Metadata, spec: object, source: str) -> WindowDocument:
    """Validate ``spec`` (fields, then the timing as a whole)."""
    if not _NAME.match(metadata.name):
        raise InputError("metadata.name: 3-128 characters of a-z A-Z 0-9 _ - .")
    try:
        model = WindowSpec.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    try:
        timing(model).check()
    except InputError as exc:
        raise InputError(f"spec: {exc}") from None
    return WindowDocument(metadata.name, model, source, metadata.description)
