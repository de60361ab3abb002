"""Custom rule types from the entry point group ``patchwarden.rules``.

A plugin distribution declares, e.g. in its ``pyproject.toml``::

    [project.entry-points."patchwarden.rules"]
    ntp-configured = "acme_rules:NTP_CONFIGURED"   # a patchwarden.core.rules.RuleType

Nothing is discovered by import side effect: the server and the CLI call
:func:`load_custom_rule_types` once at start-up; :func:`active` is the registry documents
are validated against from then on (the managed types until then).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from patchwarden.core.rules import RULE_TYPES, RuleType, with_custom
from patchwarden.errors import EnvironmentProblem

ENTRY_POINT_GROUP = "patchwarden.rules"
_ACTIVE: dict[str, RuleType] = dict(RULE_TYPES)


def discover() -> list[tuple[str, object]]:
    """(name, loaded object) of every installed ``patchwarden.rules`` entry point."""
    found = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            found.append((point.name, point.load()))
        except Exception as exc:  # a broken plugin is reported by name, not as a traceback
            raise EnvironmentProblem(
                f"rule plugin {point.name!r} ({point.value}) failed to load: {exc}"
            ) from None
    return found


def load_custom_rule_types(
    extra: list[tuple[str, object]] | None = None,
) -> Mapping[str, RuleType]:
    """Managed + discovered (+ ``extra``, for tests) rule types; becomes :func:`active`."""
    merged = with_custom(RULE_TYPES, [*discover(), *(extra or [])])
    _ACTIVE.clear()
    _ACTIVE.update(merged)
    return dict(merged)


def active() -> Mapping[str, RuleType]:
    """The rule types documents are validated against."""
    return _ACTIVE
