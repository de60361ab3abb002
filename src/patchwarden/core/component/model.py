"""Component documents (EC2 Image Builder / AWSTOE, reference §11) validated from plain
values; every problem is one :class:`InputError` naming the field path.

::

    name: hardening
    schemaVersion: 1.0
    parameters:
      - motd: {type: string, default: "managed by patchwarden", description: banner}
    phases:
      - name: build
        steps:
          - name: banner
            action: CreateFile
            inputs: [{path: /etc/motd, content: "{{ motd }}"}]
          - name: check
            action: ExecuteBash
            onFailure: Abort            # Abort (default) | Continue | Ignore
            maxAttempts: 3
            timeoutSeconds: 60          # default 7200; -1: unlimited
            loop: {name: files, forEach: [/etc/motd, /etc/hostname]}
            inputs: {commands: ["test -s {{ files.value }}"]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from patchwarden.core.component.template import Ref, parse_ref, references
from patchwarden.errors import InputError

PHASES = ("build", "validate", "test")
"""The phase names a component may have (each at most once, run in document order)."""
ACTIONS = (
    "ExecuteBash",
    "ExecuteBinary",
    "CreateFile",
    "AppendFile",
    "CopyFile",
    "MoveFile",
    "DeleteFile",
    "CreateFolder",
    "UpdateOS",
)
"""The action modules this version runs (the Linux file, execution and update modules)."""
OUTPUTS: dict[str, tuple[str, ...]] = {
    "ExecuteBash": ("stdout",),
    "ExecuteBinary": ("stdout",),
    "UpdateOS": ("stdout",),
}
"""The outputs each action gives (the others give none)."""
DEFAULT_TIMEOUT = 7200
MAX_ATTEMPTS = 1000
MAX_ITERATIONS = 1000
"""Iterations of one loop at most (a larger loop is a document error)."""
NAME = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_DOC_FIELDS = {"name", "description", "schemaVersion", "parameters", "phases"}
_STEP_FIELDS = {"name", "action", "timeoutSeconds", "onFailure", "maxAttempts", "inputs", "loop"}


class OnFailure(StrEnum):
    """What a failed step (after its last attempt) does to its phase and the run."""

    ABORT = "Abort"
    CONTINUE = "Continue"
    IGNORE = "Ignore"


@dataclass(frozen=True)
class Parameter:
    """``parameters[]``: ``{name: {type: string, default, description}}``."""

    name: str
    default: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Loop:
    """A step's ``loop``: ``for`` (start..end inclusive, by update_by) or ``forEach`` over
    ``items`` (a list) or ``text`` split at ``delimiter``.  Items may hold ``{{ param }}``."""

    name: str | None = None
    start: int | None = None
    end: int | None = None
    update_by: int = 1
    items: tuple[str, ...] | None = None
    text: str | None = None
    delimiter: str = ","


@dataclass(frozen=True)
class Step:
    """One step of a phase."""

    name: str
    action: str
    inputs: object = None
    timeout_seconds: int | None = DEFAULT_TIMEOUT
    """None: unlimited (``timeoutSeconds: -1``)."""
    on_failure: OnFailure = OnFailure.ABORT
    max_attempts: int = 1
    loop: Loop | None = None


@dataclass(frozen=True)
class Phase:
    """``phases[]``: a name and its steps, run in order."""

    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Component:
    """A validated component document."""

    phases: tuple[Phase, ...]
    parameters: tuple[Parameter, ...] = ()
    name: str = ""
    description: str = ""
    schema_version: str = "1.0"

    def phase(self, name: str) -> Phase:
        """The phase called ``name`` (KeyError when there is none)."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def resolve_parameters(self, given: Mapping[str, str] | None) -> dict[str, str]:
        """The parameter values of a run: ``given`` over the defaults.  InputError for a
        name the document does not declare or a parameter without default nor value."""
        given = dict(given or {})
        declared = {p.name for p in self.parameters}
        for name in given:
            if name not in declared:
                shown = ", ".join(sorted(declared)) or "none"
                raise InputError(f"parameter {name!r}: not declared (declared: {shown})")
        values: dict[str, str] = {}
        for p in self.parameters:
            if p.name in given:
                values[p.name] = given[p.name]
            elif p.default is not None:
                values[p.name] = p.default
            else:
                raise InputError(f"parameter {p.name!r}: has no default, give it a value")
        return values


def _fail(path: str, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


def _type(value: object) -> str:
    names = {"NoneType": "null", "dict": "mapping", "list": "list", "str": "string"}
    return names.get(type(value).__name__, type(value).__name__)


def _str(value: object, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, got {_type(value)}")
    if not empty and not value:
        raise _fail(path, "must not be empty")
    return value


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be an integer, got {_type(value)}")
    return value


def _scalar(value: object, path: str) -> str:
    """A parameter value: strings as they are, numbers and booleans as YAML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _fail(path, f"must be a string, got {_type(value)}")


def _mapping(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a mapping, got {_type(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(path, f"keys must be strings, got {key!r}")
    return value


def _list(value: object, path: str, *, empty: bool = False) -> Sequence[object]:
    if not isinstance(value, list):
        raise _fail(path, f"must be a list, got {_type(value)}")
    if not empty and not value:
        raise _fail(path, "must not be empty")
    return value


def _fields(raw: Mapping[str, object], path: str, allowed: set[str], required: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise _fail(f"{path}.{key}" if path else key, "unknown field")
    for key in sorted(required):
        if key not in raw:
            raise _fail(f"{path}.{key}" if path else key, "required field is missing")


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, got {_type(value)}")
    return value


# -- action inputs ---------------------------------------------------------------------------

_ENTRY_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "CreateFile": (
        {"path", "content", "overwrite", "permissions", "owner", "group", "encoding"},
        {"path"},
    ),
    "AppendFile": ({"path", "content", "encoding"}, {"path", "content"}),
    "CopyFile": ({"source", "destination", "overwrite"}, {"source", "destination"}),
    "MoveFile": ({"source", "destination", "overwrite"}, {"source", "destination"}),
    "DeleteFile": ({"path"}, {"path"}),
    "CreateFolder": ({"path", "overwrite", "permissions", "owner", "group"}, {"path"}),
}
_PERMISSIONS = re.compile(r"^0?[0-7]{3,4}$")


def permissions_mode(value: object) -> int:
    """``permissions`` (``"0644"``, ``"755"`` or the integer 644) as a mode."""
    text = str(value)
    if isinstance(value, bool) or not _PERMISSIONS.match(text):
        raise ValueError(f"must be octal permissions such as '0644', got {value!r}")
    return int(text, 8)


def _check_inputs(action: str, inputs: object, path: str) -> object:
    """Validate the inputs' shape for ``action``; returns them as given."""
    if action == "ExecuteBash":
        raw = _mapping(inputs, path)
        _fields(raw, path, {"commands"}, {"commands"})
        for i, command in enumerate(_list(raw["commands"], f"{path}.commands")):
            _str(command, f"{path}.commands[{i}]", empty=True)
        return inputs
    if action == "ExecuteBinary":
        raw = _mapping(inputs, path)
        _fields(raw, path, {"path", "arguments"}, {"path"})
        _str(raw["path"], f"{path}.path")
        for i, arg in enumerate(_list(raw.get("arguments", []), f"{path}.arguments", empty=True)):
            _scalar(arg, f"{path}.arguments[{i}]")
        return inputs
    if action == "UpdateOS":
        if inputs is None:
            return {}
        raw = _mapping(inputs, path)
        _fields(raw, path, {"include", "exclude"}, set())
        for key in ("include", "exclude"):
            for i, name in enumerate(_list(raw.get(key, []), f"{path}.{key}", empty=True)):
                _str(name, f"{path}.{key}[{i}]")
        return inputs
    allowed, required = _ENTRY_FIELDS[action]
    for i, entry in enumerate(_list(inputs, path)):
        where = f"{path}[{i}]"
        raw = _mapping(entry, where)
        _fields(raw, where, allowed, required)
        for key in ("path", "source", "destination"):
            if key in raw:
                _str(raw[key], f"{where}.{key}")
        if "content" in raw:
            _str(raw["content"], f"{where}.content", empty=True)
        if "overwrite" in raw:
            _bool(raw["overwrite"], f"{where}.overwrite")
        if raw.get("encoding", "utf8") not in ("utf8", "utf-8", "ascii", "base64"):
            raise _fail(f"{where}.encoding", "must be utf8, ascii or base64")
        if "permissions" in raw:
            try:
                permissions_mode(raw["permissions"])
            except ValueError as exc:
                raise _fail(f"{where}.permissions", str(exc)) from None
        for key in ("owner", "group"):
            if key in raw:
                _scalar(raw[key], f"{where}.{key}")
    return inputs


# -- loops -------------------------------------------------------------------------------------


def _loop(raw: object, path: str) -> Loop:
    spec = _mapping(raw, path)
    _fields(spec, path, {"name", "for", "forEach"}, set())
    name = None
    if "name" in spec:
        name = _str(spec["name"], f"{path}.name")
        if not NAME.match(name) or name in ("loop",):
            raise _fail(f"{path}.name", "must be 1-128 characters of a-z A-Z 0-9 _ - (not 'loop')")
    if ("for" in spec) == ("forEach" in spec):
        raise _fail(path, "needs exactly one of for or forEach")
    if "for" in spec:
        where = f"{path}.for"
        body = _mapping(spec["for"], where)
        _fields(body, where, {"start", "end", "updateBy"}, {"start", "end", "updateBy"})
        start = _int(body["start"], f"{where}.start")
        end = _int(body["end"], f"{where}.end")
        step = _int(body["updateBy"], f"{where}.updateBy")
        if step == 0:
            raise _fail(f"{where}.updateBy", "must not be 0")
        if (end - start) * step < 0:
            raise _fail(where, f"updateBy {step} never goes from {start} to {end}")
        count = (end - start) // step + 1
        if count > MAX_ITERATIONS:
            raise _fail(where, f"{count} iterations (at most {MAX_ITERATIONS})")
        return Loop(name=name, start=start, end=end, update_by=step)
    where = f"{path}.forEach"
    each = spec["forEach"]
    if isinstance(each, list):
        items = tuple(_scalar(v, f"{where}[{i}]") for i, v in enumerate(_list(each, where)))
        if len(items) > MAX_ITERATIONS:
            raise _fail(where, f"{len(items)} iterations (at most {MAX_ITERATIONS})")
        return Loop(name=name, items=items)
    mapping = _mapping(each, where)
    _fields(mapping, where, {"list", "delimiter"}, {"list"})
    text = _str(mapping["list"], f"{where}.list")
    delimiter = _str(mapping.get("delimiter", ","), f"{where}.delimiter")
    return Loop(name=name, text=text, delimiter=delimiter)


def loop_values(loop: Loop) -> list[tuple[int, str]]:
    """The (index, value) pairs of a loop whose templates are already rendered (``items``
    or ``text`` hold final values); ``for`` loops count inclusively.  ValueError when a
    delimited list turns out longer than :data:`MAX_ITERATIONS`."""
    if loop.start is not None and loop.end is not None:
        stop = loop.end + (1 if loop.update_by > 0 else -1)
        values = [str(v) for v in range(loop.start, stop, loop.update_by)]
    elif loop.items is not None:
        values = list(loop.items)
    else:
        values = [v for v in (loop.text or "").split(loop.delimiter) if v != ""]
    if len(values) > MAX_ITERATIONS:
        raise ValueError(f"the loop has {len(values)} iterations (at most {MAX_ITERATIONS})")
    return list(enumerate(values))


# -- the document --------------------------------------------------------------------------


def _parameters(raw: object) -> tuple[Parameter, ...]:
    if raw is None:
        return ()
    found: list[Parameter] = []
    for i, entry in enumerate(_list(raw, "parameters", empty=True)):
        where = f"parameters[{i}]"
        body = _mapping(entry, where)
        if len(body) != 1:
            raise _fail(where, "must be one mapping {NAME: {type: string, default, description}}")
        ((name, spec),) = body.items()
        if not NAME.match(name) or name == "loop":
            raise _fail(f"{where}.{name}", "name must be 1-128 characters of a-z A-Z 0-9 _ -")
        if any(p.name == name for p in found):
            raise _fail(f"{where}.{name}", "parameter is declared twice")
        spec = _mapping(spec, f"{where}.{name}")
        _fields(spec, f"{where}.{name}", {"type", "default", "description"}, {"type"})
        if spec["type"] != "string":
            raise _fail(f"{where}.{name}.type", f"must be string, got {spec['type']!r}")
        default = None
        if "default" in spec and spec["default"] is not None:
            default = _scalar(spec["default"], f"{where}.{name}.default")
        description = _str(spec.get("description", ""), f"{where}.{name}.description", empty=True)
        found.append(Parameter(name, default, description))
    return tuple(found)


def _check_refs(
    value: object,
    path: str,
    parameters: set[str],
    loop: Loop | None,
    earlier: Mapping[tuple[str, str], str] | None,
) -> None:
    """Every reference in ``value`` has a known form and names something that exists."""
    for text in references(value):
        try:
            ref: Ref = parse_ref(text)
        except ValueError as exc:
            raise _fail(path, str(exc)) from None
        if ref.kind == "param" and ref.name not in parameters:
            raise _fail(path, f"{{{{ {text} }}}} names no declared parameter")
        if ref.kind == "loop" and (loop is None or ref.name not in ("loop", loop.name)):
            raise _fail(path, f"{{{{ {text} }}}} is not inside a loop named {ref.name!r}")
        if ref.kind == "output":
            if earlier is None:
                raise _fail(path, f"{{{{ {text} }}}}: step outputs can only be used in inputs")
            action = earlier.get((ref.phase, ref.step))
            if action is None:
                raise _fail(path, f"{{{{ {text} }}}} names no step that runs before this one")
            if ref.attribute not in OUTPUTS.get(action, ()):
                given = ", ".join(OUTPUTS.get(action, ())) or "none"
                raise _fail(
                    path,
                    f"{{{{ {text} }}}}: a {action} step has no output {ref.attribute!r} "
                    f"(outputs: {given})",
                )


def _step(
    raw: object, path: str, parameters: set[str], earlier: Mapping[tuple[str, str], str]
) -> Step:
    spec = _mapping(raw, path)
    _fields(spec, path, _STEP_FIELDS, {"name", "action"})
    name = _str(spec["name"], f"{path}.name")
    if not NAME.match(name):
        raise _fail(f"{path}.name", "must be 1-128 characters of a-z A-Z 0-9 _ -")
    action = spec["action"]
    if action not in ACTIONS:
        raise _fail(f"{path}.action", f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    assert isinstance(action, str)
    timeout: int | None = _int(
        spec.get("timeoutSeconds", DEFAULT_TIMEOUT), f"{path}.timeoutSeconds"
    )
    if timeout == -1:
        timeout = None
    elif timeout is not None and timeout < 1:
        raise _fail(f"{path}.timeoutSeconds", "must be at least 1, or -1 for unlimited")
    try:
        on_failure = OnFailure(str(spec.get("onFailure", "Abort")))
    except ValueError:
        raise _fail(
            f"{path}.onFailure", f"must be Abort, Continue or Ignore, got {spec['onFailure']!r}"
        ) from None
    attempts = _int(spec.get("maxAttempts", 1), f"{path}.maxAttempts")
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise _fail(f"{path}.maxAttempts", f"must be 1 to {MAX_ATTEMPTS}")
    loop = _loop(spec["loop"], f"{path}.loop") if "loop" in spec else None
    if loop is not None:
        _check_refs([*(loop.items or ()), loop.text or ""], f"{path}.loop", parameters, None, None)
    inputs = _check_inputs(action, spec.get("inputs"), f"{path}.inputs")
    _check_refs(inputs, f"{path}.inputs", parameters, loop, earlier)
    return Step(name, action, inputs, timeout, on_failure, attempts, loop)


def parse_component(raw: object) -> Component:
    """Validate a component document (the parsed YAML of ``data``)."""
    doc = _mapping(raw, "(document)")
    _fields(doc, "", _DOC_FIELDS, {"schemaVersion", "phases"})
    version = doc["schemaVersion"]
    if str(version) not in ("1.0", "1"):
        raise _fail("schemaVersion", f"must be 1.0, got {version!r}")
    parameters = _parameters(doc.get("parameters"))
    names = {p.name for p in parameters}
    phases: list[Phase] = []
    earlier: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(_list(doc["phases"], "phases")):
        where = f"phases[{i}]"
        body = _mapping(entry, where)
        _fields(body, where, {"name", "steps"}, {"name", "steps"})
        name = body["name"]
        if name not in PHASES:
            raise _fail(f"{where}.name", f"must be build, validate or test, got {name!r}")
        assert isinstance(name, str)
        if any(p.name == name for p in phases):
            raise _fail(f"{where}.name", f"phase {name!r} is given twice")
        steps: list[Step] = []
        for j, raw_step in enumerate(_list(body["steps"], f"{where}.steps")):
            step = _step(raw_step, f"{where}.steps[{j}]", names, earlier)
            if any(s.name == step.name for s in steps):
                raise _fail(
                    f"{where}.steps[{j}].name", f"step {step.name!r} is given twice in this phase"
                )
            steps.append(step)
            earlier[(name, step.name)] = step.action
        phases.append(Phase(name, tuple(steps)))
    description = doc.get("description", "")
    return Component(
        phases=tuple(phases),
        parameters=parameters,
        name=_str(doc.get("name", ""), "name", empty=True),
        description=_str(description, "description", empty=True),
        schema_version="1.0",
    )
