"""Alpine version ordering, identical to apk-tools 3.0's ``apk_version_compare``.

An Alpine version is ``digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-rN}``, read as
tokens exactly like apk-tools' ``src/version.c`` (3.0.x): the initial number, ``.``-digit
runs, at most one lowercase letter, any number of ``_suffix`` with an optional number, at
most one ``~`` commit hash (lowercase hex) and at most one ``-r`` revision number, in that
order. The suffixes are ``alpha < beta < pre < rc`` (pre-releases, below the bare version)
and ``cvs < svn < git < hg < p`` (after it).

Two versions are walked token by token while both have the same kind of token; the first
differing value decides. Numbers compare as unsigned 64-bit integers (apk wraps larger
numbers modulo 2**64, and so does this module), except a ``.``-digit run where either side
has a leading zero: then both compare as strings (``1.2.0 < 1.2.001``, ``1.01 < 1.1``); the
letter and suffix by their order; the commit hash as a string. When one version has a token
the other lacks (or has a different kind), a pre-release suffix makes its version lower;
otherwise the version whose token comes *later* in the grammar is lower, so
``1.0_rc1 < 1.0 < 1.0-r0 < 1.0~abc < 1.0_p1 < 1.0a < 1.0.1`` and ``1.0-r5 < 1.0.1``.

Validity follows ``apk_version_validate``; anything it rejects raises
:class:`~patchwarden.errors.InputError`: an empty string, a version not starting with a
digit, ``.`` without digits, a second letter or an uppercase one, digits after the letter
(``1.0a1``), an unknown or empty suffix (``_foobar``, ``_1``), a suffix or ``.`` after the
hash or revision, an empty or non-hex hash, ``-`` not followed by ``r`` and digits, and any
other character (spaces, ``+``, ``:``, non-ASCII). apk-tools itself still compares such
strings up to the first bad token (its test table has ``1.0 < 1.0bc``); they are not valid
versions, so this module refuses them like the deb and rpm schemes refuse theirs.

apk-tools 2.x (before 3.0) reads versions differently in corner cases: it matches suffixes
by prefix, has no ``~hash`` token, orders leading zeros by their count and rejects numbers
of 18 digits or more. This module follows 3.0, whose own test table
(``test/unit/version.data``) it is checked against line by line.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple

from patchwarden.errors import InputError

__all__ = ["ApkToken", "Kind", "compare", "is_valid", "match", "parse", "sort_key"]

_U64 = 2**64
_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdef")
_OPERATOR_CHARS = frozenset("<>=~")

#: apk's suffix enum: pre-releases below NONE (the bare version), post-releases above.
_SUFFIXES: dict[str, int] = {
    "alpha": 1, "beta": 2, "pre": 3, "rc": 4,  # SUFFIX_NONE is 5
    "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10,
}  # fmt: skip
_SUFFIX_NONE = 5
_SUFFIX_NAMES = ", ".join(_SUFFIXES)


class Kind(IntEnum):
    """apk-tools' token kinds (``enum PARTS``), in grammar order; the values are apk's."""

    INITIAL_DIGIT = 0
    DIGIT = 1
    LETTER = 2
    SUFFIX = 3
    SUFFIX_NO = 4
    COMMIT_HASH = 5
    REVISION_NO = 6
    END = 7
    INVALID = 8


class ApkToken(NamedTuple):
    """One token: its kind, its text and its value (a number, a suffix rank or 0)."""

    kind: Kind
    text: str
    number: int


class _Bad(NamedTuple):
    """Where and why tokenizing stopped on an invalid token."""

    position: int
    problem: str


def _digits_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return end


@lru_cache(maxsize=65536)
def _tokenize(text: str) -> tuple[tuple[ApkToken, ...], _Bad | None]:
    """Port of ``token_first``/``token_next``: the tokens up to END, or up to a bad token.

    The returned tokens never include END or INVALID; the second item is None at the end of a
    valid version, else the position and reason of the first invalid token.
    """
    tokens: list[ApkToken] = []

    def stop(position: int, problem: str) -> tuple[tuple[ApkToken, ...], _Bad]:
        return tuple(tokens), _Bad(position, problem)

    end = _digits_end(text, 0)
    if end == 0:
        return stop(0, "it must start with a digit")
    tokens.append(ApkToken(Kind.INITIAL_DIGIT, text[:end], int(text[:end]) % _U64))
    kind = Kind.INITIAL_DIGIT
    pos = end
    while pos < len(text):
        char = text[pos]
        if char in _LOWER:
            if kind > Kind.DIGIT:
                return stop(pos, f"letter {char!r} after a letter, suffix, hash or revision")
            tokens.append(ApkToken(Kind.LETTER, char, ord(char)))
            kind, pos = Kind.LETTER, pos + 1
        elif char == "." or char in _DIGITS:
            if char == ".":
                if kind > Kind.DIGIT:
                    return stop(pos, "'.' after a letter, suffix, hash or revision")
                pos += 1
            if kind in (Kind.INITIAL_DIGIT, Kind.DIGIT):
                kind = Kind.DIGIT
            elif kind == Kind.SUFFIX:
                kind = Kind.SUFFIX_NO
            else:
                return stop(pos, "digits after a letter, hash or revision")
            end = _digits_end(text, pos)
            if end == pos:
                return stop(pos, "'.' is not followed by digits")
            tokens.append(ApkToken(kind, text[pos:end], int(text[pos:end]) % _U64))
            pos = end
        elif char == "_":
            if kind > Kind.SUFFIX_NO:
                return stop(pos, "suffix after the commit hash or revision")
            end = pos + 1
            while end < len(text) and text[end] in _LOWER:
                end += 1
            name = text[pos + 1 : end]
            if name not in _SUFFIXES:
                shown = f"'_{name}'" if name else "empty suffix '_'"
                return stop(pos, f"{shown} is not one of {_SUFFIX_NAMES}")
            tokens.append(ApkToken(Kind.SUFFIX, name, _SUFFIXES[name]))
            kind, pos = Kind.SUFFIX, end
        elif char == "~":
            if kind >= Kind.COMMIT_HASH:
                return stop(pos, "'~' after the commit hash or revision")
            end = pos + 1
            while end < len(text) and text[end] in _HEX:
                end += 1
            if end == pos + 1:
                return stop(pos, "'~' is not followed by a lowercase hex commit hash")
            tokens.append(ApkToken(Kind.COMMIT_HASH, text[pos + 1 : end], 0))
            kind, pos = Kind.COMMIT_HASH, end
        elif char == "-":
            if kind >= Kind.REVISION_NO:
                return stop(pos, "a second '-' after the revision")
            if not text.startswith("-r", pos):
                return stop(pos, "'-' must start a revision '-r<digits>'")
            end = _digits_end(text, pos + 2)
            if end == pos + 2:
                return stop(pos, "'-r' is not followed by digits")
            digits = text[pos + 2 : end]
            tokens.append(ApkToken(Kind.REVISION_NO, digits, int(digits) % _U64))
            kind, pos = Kind.REVISION_NO, end
        else:
            return stop(pos, f"invalid character {char!r}")
    return tuple(tokens), None


def _invalid(version: str, problem: str) -> InputError:
    return InputError(f"invalid Alpine version {version!r}: {problem}")


@lru_cache(maxsize=65536)
def parse(version: str) -> tuple[ApkToken, ...]:
    """Split ``version`` into apk-tools' tokens (without the final END).

    >>> [(t.kind.name, t.text) for t in parse("1.2a_rc1-r3")]  # doctest: +NORMALIZE_WHITESPACE
    [('INITIAL_DIGIT', '1'), ('DIGIT', '2'), ('LETTER', 'a'), ('SUFFIX', 'rc'),
     ('SUFFIX_NO', '1'), ('REVISION_NO', '3')]

    Raises :class:`~patchwarden.errors.InputError` where ``apk_version_validate`` fails.
    """
    if not version:
        raise _invalid(version, "version string is empty")
    tokens, bad = _tokenize(version)
    if bad is not None:
        raise _invalid(version, f"{bad.problem} (at offset {bad.position})")
    return tokens


def is_valid(version: str) -> bool:
    """``apk_version_validate``: True if apk-tools accepts ``version``.

    >>> is_valid("1.0_pre2~1234abcd-r1"), is_valid("1.0bc"), is_valid("1.0-r1.1")
    (True, False, False)
    """
    return _tokenize(version)[1] is None


def _token_cmp(a: ApkToken, b: ApkToken) -> int:
    """Port of ``token_cmp`` for two tokens of the same kind."""
    if a.kind == Kind.COMMIT_HASH or (
        a.kind == Kind.DIGIT and (a.text.startswith("0") or b.text.startswith("0"))
    ):
        return (a.text > b.text) - (a.text < b.text)  # memcmp, then the shorter first
    return (a.number > b.number) - (a.number < b.number)


def _walk(a: str, b: str, fuzzy: bool = False) -> int:
    """Port of ``apk_version_compare_fuzzy``, invalid versions included: -1, 0 or 1.

    This is apk-tools' algorithm verbatim (no validation), the reference that the tests
    hold :func:`sort_key` to; with ``fuzzy`` a version equals every version it extends.
    """
    tokens_a, bad_a = _tokenize(a)
    tokens_b, bad_b = _tokenize(b)
    for ta, tb in zip(tokens_a, tokens_b, strict=False):
        if ta.kind != tb.kind:
            return _tail_order(ta, tb)
        result = _token_cmp(ta, tb)
        if result:
            return result
    end_a = _tail_token(tokens_a, len(tokens_b), bad_a)
    end_b = _tail_token(tokens_b, len(tokens_a), bad_b)
    if end_a.kind == end_b.kind:
        return 0
    if end_b.kind == Kind.END and fuzzy:
        return 0
    return _tail_order(end_a, end_b)


def _tail_token(tokens: tuple[ApkToken, ...], index: int, bad: _Bad | None) -> ApkToken:
    if index < len(tokens):
        return tokens[index]
    return ApkToken(Kind.END if bad is None else Kind.INVALID, "", 0)


def _tail_order(ta: ApkToken, tb: ApkToken) -> int:
    """apk's order for tokens of different kinds: a pre-release suffix, else the later kind."""
    if ta.kind == Kind.SUFFIX and ta.number < _SUFFIX_NONE:
        return -1
    if tb.kind == Kind.SUFFIX and tb.number < _SUFFIX_NONE:
        return 1
    return (ta.kind < tb.kind) - (ta.kind > tb.kind)


# Ranks of the key elements: a lower rank is a lower version when the kinds differ.
_RANK_PRE_SUFFIX = 0
_RANK: dict[Kind, int] = {
    Kind.END: 1,
    Kind.REVISION_NO: 2,
    Kind.COMMIT_HASH: 3,
    Kind.SUFFIX_NO: 4,
    Kind.SUFFIX: 5,  # post-release suffixes; pre-releases get _RANK_PRE_SUFFIX
    Kind.LETTER: 6,
    Kind.DIGIT: 7,
    Kind.INITIAL_DIGIT: 8,
}
_END_KEY: tuple[int] = (_RANK[Kind.END],)

#: Key of one version: one tuple per token, (rank, value...), then the END element.
ApkKey = tuple[tuple[object, ...], ...]


def _element(token: ApkToken) -> tuple[object, ...]:
    if token.kind == Kind.SUFFIX and token.number < _SUFFIX_NONE:
        return (_RANK_PRE_SUFFIX, token.number)
    rank = _RANK[token.kind]
    if token.kind == Kind.COMMIT_HASH:
        return (rank, token.text)
    if token.kind == Kind.DIGIT:
        # Any leading zero means string order; "0..." sorts below every "[1-9]..." there.
        if token.text.startswith("0"):
            return (rank, 0, token.text)
        return (rank, 1, token.number)
    return (rank, token.number)


@lru_cache(maxsize=65536)
def sort_key(version: str) -> ApkKey:
    """A tuple that sorts exactly as apk-tools orders ``version``; equal keys mean equal.

    When two versions first differ in the kind of a token, the element ranks decide as
    apk's tail rule does: pre-release suffix < END < revision < hash < suffix number <
    post-release suffix < letter < ``.digits`` < initial number.

    >>> sorted(["1.0-r1", "1.0_rc1", "1.0.1", "1.0", "1.0_p1", "1.0a"], key=sort_key)
    ['1.0_rc1', '1.0', '1.0-r1', '1.0_p1', '1.0a', '1.0.1']
    """
    return (*(_element(token) for token in parse(version)), _END_KEY)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as ``a`` is lower than, equal to or higher than ``b`` (apk order).

    >>> compare("1.2.3_rc1-r0", "1.2.3-r0"), compare("1.0-r0", "1.0"), compare("1.01", "1.1")
    (-1, 1, -1)

    Raises :class:`~patchwarden.errors.InputError` if either version is malformed.
    """
    key_a = sort_key(a)
    key_b = sort_key(b)
    return (key_a > key_b) - (key_a < key_b)


def match(a: str, operator: str, b: str) -> bool:
    """``apk_version_match``: does ``a`` satisfy the constraint ``operator b``?

    ``operator`` is built from ``<``, ``>``, ``=`` and ``~`` like apk's dependency
    operators (``<``, ``<=``, ``=``, ``>=``, ``>``, ``~``, ``<~``, ``>~``); ``~`` is the
    fuzzy match where ``3.6.9`` and ``3.6_pre1`` equal ``3.6``.

    >>> match("3.6.9", "~", "3.6"), match("3.6", "~", "3.6.9"), match("3.5", "<~", "3.6")
    (True, False, True)

    Raises :class:`~patchwarden.errors.InputError` for a malformed version or operator.
    """
    if not operator or not set(operator) <= _OPERATOR_CHARS:
        raise InputError(f"invalid apk version operator {operator!r} (use <, <=, =, >=, >, ~)")
    parse(a)
    parse(b)
    result = _walk(a, b, fuzzy="~" in operator)
    if result == 0:
        return "=" in operator or "~" in operator
    return ("<" if result < 0 else ">") in operator
