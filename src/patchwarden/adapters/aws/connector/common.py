"""What the importers share: the resource shape, ISO 8601 times, tags, pagination."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from patchwarden.adapters.aws.connector.session import aws_errors

Resource = dict[str, Any]
"""``{resource_id, resource_type, name, tags, attributes}`` (core.responsibility.kinds)."""


def resource(
    arn: str,
    resource_type: str,
    name: str,
    tags: Mapping[str, str],
    attributes: Mapping[str, Any],
) -> Resource:
    """One imported resource."""
    return {
        "resource_id": arn,
        "resource_type": resource_type,
        "name": name,
        "tags": dict(tags),
        "attributes": dict(attributes),
    }


def iso(value: object) -> str | None:
    """An AWS time (a datetime, an ISO string or epoch seconds) as ISO 8601 UTC, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def tag_map(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """``[{Key, Value}]`` (or ``{key: value}``, or ``[{key, value}]``) as ``{key: value}``."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def pages(client: Any, service: str, operation: str, key: str, **params: Any) -> Iterator[Any]:
    """Every item under ``key`` of every page of ``operation`` (a boto3 paginator)."""
    with aws_errors(service):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])


def call(client: Any, service: str, operation: str, **params: Any) -> Any:
    """One call of ``operation``, errors translated."""
    with aws_errors(service):
        return getattr(client, operation)(**params)


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` by ``size`` (APIs that take at most N names per call)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
