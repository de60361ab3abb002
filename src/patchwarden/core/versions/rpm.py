"""RPM version ordering, identical to rpm 4.18's ``rpmverCmp`` / ``labelCompare``.

An EVR is ``[epoch:]version[-release]``, split like rpm's ``rpmverParse``: the epoch is the
leading digits before a ``:``, the release is what follows the **last** ``-``. Ordering
compares the epoch (absent = 0) numerically, then the version with ``rpmvercmp``, then the
release with ``rpmvercmp``; an absent release sorts **before** any release (rpm's
``compare_values``: ``1.0 < 1.0-1``), which is labelCompare's order, not the looser
dependency match of ``rpmdsCompare`` where a missing release matches any.

``rpmvercmp`` splits a string into segments: runs of ASCII digits, runs of ASCII letters,
``~`` and ``^``; every other character only separates segments (``1.0 == 1_0``). At the
first difference: ``~`` < end of string < ``^`` < letters < digits; letters compare as
strings, digits as integers (leading zeros ignored, any size).

Invalid input raises :class:`~patchwarden.errors.InputError`: an empty string, an empty
epoch (``:1``), an empty version, an empty release (``1.0-``), or a character that
``rpmbuild`` refuses in a Version/Release tag (allowed: ASCII letters, digits and
``._+%{}~^``; so whitespace, a second ``-`` and a ``:`` inside the version are errors).
rpm itself would still compare such strings; they are not valid EVRs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from patchwarden.errors import InputError

__all__ = ["RpmEVR", "compare", "parse", "sort_key", "vercmp_key"]

_DIGITS_RE = re.compile(r"[0-9]*")
_BAD_CHAR_RE = re.compile(r"[^0-9A-Za-z._+%{}~^]")
_SEGMENT_RE = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")

# Segment ranks at the first difference: ~ < end of string < ^ < letters < digits.
_TILDE: tuple[int] = (0,)
_END: tuple[int] = (1,)
_CARET: tuple[int] = (2,)
_ALPHA = 3
_DIGIT = 4

Segment = tuple[int] | tuple[int, str] | tuple[int, int]
#: Key of one EVR: (epoch, version key, (0,) or (1, release key)).
RpmKey = tuple[int, tuple[Segment, ...], tuple[object, ...]]


class RpmEVR(NamedTuple):
    """A parsed EVR; ``epoch`` is 0 and ``release`` is None when absent."""

    epoch: int
    version: str
    release: str | None


def _invalid(evr: str, problem: str) -> InputError:
    return InputError(f"invalid RPM version {evr!r}: {problem}")


@lru_cache(maxsize=65536)
def parse(evr: str) -> RpmEVR:
    """Split ``[epoch:]version[-release]`` like rpm's ``rpmverParse``.

    >>> parse("1:2.17-326.el7_9.3")
    RpmEVR(epoch=1, version='2.17', release='326.el7_9.3')

    Raises :class:`~patchwarden.errors.InputError` on a malformed EVR (see module doc).
    """
    if not evr:
        raise _invalid(evr, "version string is empty")
    epoch_text, colon, body = evr.partition(":")
    if not (colon and _DIGITS_RE.fullmatch(epoch_text)):  # no epoch: a ":" stays, invalid
        epoch_text, body = "0", evr
    elif not epoch_text:
        raise _invalid(evr, "epoch is empty")
    version, hyphen, release = body.rpartition("-")
    if not hyphen:
        version, release = body, ""
    elif not release:
        raise _invalid(evr, "release is empty")
    if not version:
        raise _invalid(evr, "version is empty")
    for part in (version, release):
        bad = _BAD_CHAR_RE.search(part)
        if bad:
            allowed = "letters, digits and ._+%{}~^"
            raise _invalid(evr, f"invalid character {bad.group()!r} (allowed: {allowed})")
    return RpmEVR(int(epoch_text), version, release if hyphen else None)


def _segment(token: str) -> Segment:
    if token == "~":
        return _TILDE
    if token == "^":
        return _CARET
    if token[0].isdigit():
        return (_DIGIT, int(token))
    return (_ALPHA, token)


@lru_cache(maxsize=65536)
def vercmp_key(text: str) -> tuple[Segment, ...]:
    """A key that orders plain version or release strings exactly like ``rpmvercmp``.

    >>> vercmp_key("1.0~rc1") < vercmp_key("1.0") < vercmp_key("1.0^git1") < vercmp_key("1.0a")
    True
    """
    return (*(_segment(token) for token in _SEGMENT_RE.findall(text)), _END)


@lru_cache(maxsize=65536)
def sort_key(evr: str) -> RpmKey:
    """A tuple that sorts exactly as rpm orders ``evr``; equal keys mean rpm says equal.

    >>> sorted(["1.0-1", "1.0", "1:0.1", "1.0~rc1-5"], key=sort_key)
    ['1.0~rc1-5', '1.0', '1.0-1', '1:0.1']
    """
    parsed = parse(evr)
    release: tuple[object, ...] = (
        (0,) if parsed.release is None else (1, vercmp_key(parsed.release))
    )
    return (parsed.epoch, vercmp_key(parsed.version), release)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as EVR ``a`` is lower than, equal to or higher than ``b`` (rpm order).

    >>> compare("1.0^git1", "1.0"), compare("0:1.0-1", "1.0-1"), compare("2.0", "1:1.0")
    (1, 0, -1)

    Raises :class:`~patchwarden.errors.InputError` if either EVR is malformed.
    """
    key_a = sort_key(a)
    key_b = sort_key(b)
    return (key_a > key_b) - (key_a < key_b)
