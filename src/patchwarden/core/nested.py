"""Walking nested JSON-like values (strings, lists and mappings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping


def strings(value: object) -> Iterator[str]:
    """Every string inside ``value``: the value itself, list items and mapping values,
    recursively (mapping keys are not visited)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
