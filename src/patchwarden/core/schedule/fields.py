"""Parsing the plain cron fields: values, names, ranges (with wrap-around), steps and lists.

The day fields' specials (``?``, ``L``, ``W``, ``#``) live in :mod:`.days`; this module turns
a field such as ``10-50/10`` or ``FRI-MON`` into the sorted tuple of the values it allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchwarden.errors import InputError

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class FieldSpec:
    """One cron field's name, bounds, optional value names, and whether ranges may wrap."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    cyclic: bool = True

    def error(self, expression: str, text: str, why: str) -> InputError:
        """The one-line message pointing at this field."""
        return InputError(f"{expression}: {self.name} field {text!r}: {why}")


SECONDS = FieldSpec("seconds", 0, 59)
MINUTES = FieldSpec("minutes", 0, 59)
HOURS = FieldSpec("hour", 0, 23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31)
MONTH = FieldSpec("month", 1, 12, MONTHS)
DAY_OF_WEEK = FieldSpec("day-of-week", 1, 7, WEEKDAYS)
YEAR = FieldSpec("year", 1970, 2199, cyclic=False)


def parse_value(spec: FieldSpec, expression: str, field: str, text: str) -> int:
    """One value: a number in the field's bounds or (month, day-of-week) a name."""
    upper = text.upper()
    if spec.names and upper in spec.names:
        return spec.names.index(upper) + spec.low
    if not text.isdigit() or not text.isascii():
        hint = f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        raise spec.error(expression, field, f"{text!r} is not a number{hint}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise spec.error(expression, field, f"must be {spec.low}-{spec.high}")
    return value


def _span(spec: FieldSpec, expression: str, field: str, first: int, last: int) -> list[int]:
    if first <= last:
        return list(range(first, last + 1))
    if not spec.cyclic:
        raise spec.error(expression, field, f"range {first}-{last} runs backwards")
    return list(range(first, spec.high + 1)) + list(range(spec.low, last + 1))


def parse_item(spec: FieldSpec, expression: str, field: str, item: str) -> list[int]:
    """One list item: ``*``, ``a``, ``a-b``, each optionally ``/step`` (``a/s`` runs to the top)."""
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
            raise spec.error(expression, field, f"step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        values = list(range(spec.low, spec.high + 1))
    elif "-" in base:
        first_text, _, last_text = base.partition("-")
        first = parse_value(spec, expression, field, first_text)
        last = parse_value(spec, expression, field, last_text)
        values = _span(spec, expression, field, first, last)
    else:
        start = parse_value(spec, expression, field, base)
        values = list(range(start, spec.high + 1)) if slash else [start]
    return values[::step]


def parse_field(spec: FieldSpec, expression: str, field: str) -> tuple[int, ...]:
    """A whole plain field (a comma list of items) as the sorted values it allows."""
    if not field:
        raise spec.error(expression, field, "is empty")
    allowed: set[int] = set()
    for item in field.split(","):
        if not item:
            raise spec.error(expression, field, "has an empty list item")
        allowed.update(parse_item(spec, expression, field, item))
    return tuple(sorted(allowed))
