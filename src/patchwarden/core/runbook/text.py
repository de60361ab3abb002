"""``{{parameter}}`` / ``{{step.Output}}`` references: finding, substituting, selecting."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from patchwarden.core.nested import strings

_REF = re.compile(r"\{\{\s*([A-Za-z0-9_:.\-]+)\s*\}\}")


class Unresolved(LookupError):
    """A reference has no value (yet): the step using it fails."""


def references(value: object) -> Iterator[str]:
    """Every reference inside ``value`` (strings, lists and mappings, recursively)."""
    for text in strings(value):
        yield from _REF.findall(text)


def substitute(value: object, variables: Mapping[str, object]) -> object:
    """``value`` with references replaced.  A string that is exactly one reference takes the
    variable's value as it is (a list stays a list); embedded references are formatted."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), variables)
        return _REF.sub(lambda m: _format(_lookup(m.group(1), variables)), value)
    if isinstance(value, Mapping):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(item, variables) for item in value]
    return value


def _lookup(name: str, variables: Mapping[str, object]) -> object:
    if name not in variables:
        raise Unresolved(f"{{{{{name}}}}} has no value")
    return variables[name]


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def select(result: Mapping[str, object], selector: str) -> object:
    """A tiny JSONPath: ``$.a.b`` or ``$.a[0]`` into ``result``; ``None`` when absent."""
    current: object = result
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", selector.removeprefix("$")):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(current, list) or index >= len(current):
                return None
            current = current[index]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return None
    return current
