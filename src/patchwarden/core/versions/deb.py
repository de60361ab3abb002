"""Debian version ordering, identical to ``dpkg --compare-versions`` (dpkg 1.21).

A Debian version is ``[epoch:]upstream[-revision]``. Ordering compares the epoch as an
integer, then the upstream version and then the revision with dpkg's ``verrevcmp``: the
string is walked as alternating non-digit and digit runs; non-digit runs compare character
by character with ``~`` before end of run, end of run before letters, letters (by ASCII)
before every other character; digit runs compare as integers of any size. An absent
revision is the empty string, which orders exactly like ``"0"``, so ``1.0 == 1.0-0``.

Parsing follows dpkg's ``parseversion``. These raise :class:`~patchwarden.errors.InputError`:
an empty string, embedded blanks, an empty / non-numeric / negative / too big (> 2**31-1)
epoch, nothing after the colon, an empty revision after ``-``, an empty upstream version,
and any character outside ``[0-9A-Za-z.+~-:]`` (upstream) or ``[0-9A-Za-z.+~]`` (revision).
Decisions, where dpkg only warns:

- An upstream version that does not start with a digit (``abc``, ``~1``) is **accepted**
  and ordered as dpkg orders it: ``dpkg --compare-versions`` warns and still compares, and
  such versions exist in old archives and in feeds.
- An invalid character is **rejected**, although dpkg only warns: it signals a different
  scheme or a typo (``1.0_1``, ``1.0^git``), and dpkg's order for it is byte-encoding noise.

Like dpkg, leading and trailing spaces and tabs are ignored and the epoch may carry a sign
(``+1:1.0`` is epoch 1); other whitespace and control characters are invalid characters.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from patchwarden.errors import InputError

__all__ = ["DebVersion", "compare", "parse", "sort_key"]

_EPOCH_MAX = 2**31 - 1
_EPOCH_RE = re.compile(r"[+-]?[0-9]+")
_EPOCH_START_RE = re.compile(r"[+-]?[0-9]")
_UPSTREAM_OK = re.compile(r"[0-9A-Za-z.+~:-]*")
_REVISION_OK = re.compile(r"[0-9A-Za-z.+~]*")
_DIGITS_RE = re.compile(r"([0-9]+)")

#: Key of one version: (epoch, upstream key, revision key); plain tuples of ints.
DebKey = tuple[int, tuple[int, ...], tuple[int, ...]]


class DebVersion(NamedTuple):
    """A parsed Debian version; ``revision`` is ``""`` when absent."""

    epoch: int
    upstream: str
    revision: str


def _invalid(version: str, problem: str) -> InputError:
    return InputError(f"invalid Debian version {version!r}: {problem}")


@lru_cache(maxsize=65536)
def parse(version: str) -> DebVersion:
    """Split ``[epoch:]upstream[-revision]`` following dpkg's ``parseversion``.

    >>> parse("1:2.3-4+deb12u1")
    DebVersion(epoch=1, upstream='2.3', revision='4+deb12u1')

    Raises :class:`~patchwarden.errors.InputError` on a malformed version (see module doc).
    """
    text = version.strip(" \t")
    if not text:
        raise _invalid(version, "version string is empty")
    if " " in text or "\t" in text:
        raise _invalid(version, "version string has embedded spaces")
    epoch = 0
    head, colon, rest = text.partition(":")
    if colon:
        if not _EPOCH_START_RE.match(head):  # strtol() consumed nothing
            raise _invalid(version, "epoch in version is empty")
        if not _EPOCH_RE.fullmatch(head):
            raise _invalid(version, "epoch in version is not number")
        epoch = int(head)
        if epoch < 0:
            raise _invalid(version, "epoch in version is negative")
        if epoch > _EPOCH_MAX:
            raise _invalid(version, "epoch in version is too big")
        if not rest:
            raise _invalid(version, "nothing after colon in version number")
        text = rest
    upstream, hyphen, revision = text.rpartition("-")
    if not hyphen:
        upstream, revision = text, ""
    elif not revision:
        raise _invalid(version, "revision number is empty")
    if not upstream:
        raise _invalid(version, "version number is empty")
    if not (_UPSTREAM_OK.fullmatch(upstream) and upstream.isascii()):
        raise _invalid(version, "invalid character in version number")
    if not (_REVISION_OK.fullmatch(revision) and revision.isascii()):
        raise _invalid(version, "invalid character in revision number")
    return DebVersion(epoch, upstream, revision)


def _order(char: str) -> int:
    """dpkg's ``order()`` for a non-digit: ``~`` < end of run (0) < letters < the rest."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part_key(part: str) -> tuple[int, ...]:
    """Flatten ``verrevcmp``: per run, the non-digit orders, a 0 terminator, the number.

    A final 0 stands for the end of the string, where dpkg's ``order('\\0')`` is 0 too; the
    empty string orders like ``"0"``. Keys never compare a number against an order value:
    positions stay aligned while keys are equal, because orders are never 0.
    """
    chunks = _DIGITS_RE.split(part) if part else ["", "0", ""]
    key: list[int] = []
    for index in range(0, len(chunks) - 1, 2):
        key.extend(_order(char) for char in chunks[index])
        key.append(0)
        key.append(int(chunks[index + 1]))
    if chunks[-1]:
        key.extend(_order(char) for char in chunks[-1])
        key.append(0)
        key.append(0)
    key.append(0)
    return tuple(key)


@lru_cache(maxsize=65536)
def sort_key(version: str) -> DebKey:
    """A tuple that sorts exactly as dpkg orders ``version``; equal keys mean dpkg ``eq``.

    >>> sorted(["1.0", "1.0~rc1", "1:0.9", "1.0+b1"], key=sort_key)
    ['1.0~rc1', '1.0', '1.0+b1', '1:0.9']
    """
    parsed = parse(version)
    return (parsed.epoch, _part_key(parsed.upstream), _part_key(parsed.revision))


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as ``a`` is lower than, equal to or higher than ``b`` (dpkg order).

    >>> compare("1.0~rc1", "1.0"), compare("1.0", "1.0-0"), compare("1:0.1", "9.9")
    (-1, 0, 1)

    Raises :class:`~patchwarden.errors.InputError` if either version is malformed.
    """
    key_a = sort_key(a)
    key_b = sort_key(b)
    return (key_a > key_b) - (key_a < key_b)
