"""``branch`` choices (reference §9): the operators, their validation and evaluation.

A choice is ``{Variable, <Operator>: value}`` or ``{And|Or: [choices]}`` / ``{Not: choice}``;
the top-level choice also has ``NextStep``.  The first true choice wins, then ``Default``,
then the next step in the list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from patchwarden.errors import InputError


def _num(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    return float(value)  # type: ignore[arg-type]


def _bool(value: object) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("not a boolean")


OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "StringEquals": lambda a, b: str(a) == str(b),
    "EqualsIgnoreCase": lambda a, b: str(a).lower() == str(b).lower(),
    "StartsWith": lambda a, b: str(a).startswith(str(b)),
    "EndsWith": lambda a, b: str(a).endswith(str(b)),
    "Contains": lambda a, b: str(b) in (a if isinstance(a, list) else str(a)),
    "NumericEquals": lambda a, b: _num(a) == _num(b),
    "NumericGreater": lambda a, b: _num(a) > _num(b),
    "NumericLesser": lambda a, b: _num(a) < _num(b),
    "NumericGreaterOrEquals": lambda a, b: _num(a) >= _num(b),
    "NumericLesserOrEquals": lambda a, b: _num(a) <= _num(b),
    "BooleanEquals": lambda a, b: _bool(a) == _bool(b),
}
_COMBINATORS = ("And", "Or", "Not")


def check_choice(choice: Mapping[str, object], where: str, *, top: bool = False) -> None:
    """One operator (with ``Variable``) or one combinator per choice."""
    keys = set(choice) - ({"NextStep"} if top else set())
    combinators = keys & set(_COMBINATORS)
    if combinators:
        if len(keys) != 1:
            raise InputError(f"{where}: {sorted(combinators)[0]} stands alone in its choice")
        name = combinators.pop()
        inner = choice[name]
        items = [inner] if name == "Not" else inner
        if not isinstance(items, list) or not items:
            raise InputError(f"{where}.{name}: must be a non-empty list of choices")
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InputError(f"{where}.{name}[{index}]: must be a mapping")
            check_choice(item, f"{where}.{name}[{index}]")
        return
    operators = keys - {"Variable"}
    if "Variable" not in keys or len(operators) != 1 or not operators <= set(OPERATORS):
        raise InputError(
            f"{where}: needs Variable and one operator of {', '.join(OPERATORS)} (or And/Or/Not)"
        )


def holds(choice: Mapping[str, object]) -> bool:
    """Whether an already substituted choice is true (a type mismatch is false)."""
    if "And" in choice:
        return all(holds(c) for c in choice["And"])  # type: ignore[attr-defined]
    if "Or" in choice:
        return any(holds(c) for c in choice["Or"])  # type: ignore[attr-defined]
    if "Not" in choice:
        return not holds(choice["Not"])  # type: ignore[arg-type]
    (name,) = set(choice) - {"Variable", "NextStep"}
    try:
        return OPERATORS[name](choice["Variable"], choice[name])
    except (TypeError, ValueError):
        return False
