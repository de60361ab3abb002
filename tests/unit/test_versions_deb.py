"""Debian version ordering: hand-checked cases (verified with dpkg 1.21.22) and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchwarden import versions
from patchwarden.core.versions import deb
from patchwarden.errors import InputError

# Each list is strictly increasing in dpkg's order.
ASCENDING = [
    ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.0~", "1.0.0", "1.0.0.1"],
    ["1.0~beta1~svn1245", "1.0~beta1", "1.0~rc1", "1.0", "1.0-0.1", "1.0-1~bpo12+1", "1.0-1"],
    ["2.36-9+deb12u9", "2.36-9+deb12u10", "2.36-9+deb12u10+b1", "2.36-10"],
    ["1.2.3-1", "1.2.3-1ubuntu0.1", "1.2.3-1ubuntu1", "1.2.3-1+b1", "1.2.3-1.1", "1.2.3-2"],
    ["3.0.11+dfsg-1~deb12u1", "3.0.11+dfsg-1", "3.0.11+dfsg-1+deb12u1", "3.0.11+dfsg1-1"],
    ["2.0-1", "2.0a-1", "2.0b-1", "2.0+really1.9-1", "2.0.1-1"],
    ["9.9", "1:0.1", "1:0.1-1", "1:1.0~rc1", "2:0", "2147483647:0"],
    ["1", "1.0", "1.0.1", "1.1", "1.9", "1.10", "1.100", "10", "99999999999999999998"],
    ["99999999999999999998", "99999999999999999999", "100000000000000000000"],
    ["1.0-1", "1.0-2", "1.0-1-1", "1.0-1.0-0", "1.0-1.0-1"],
    ["~~", "~", "A", "Z", "a~", "a", "a.", "b"],
    ["1:2a", "1:2.5-3", "1:2:5-3"],
    ["0.0", "00.1", "0.2", "0.10", "0.010a"],
]

EQUAL = [
    ("1.0", "1.0-0"),
    ("1.0", "0:1.0"),
    ("1.0", "1.00"),
    ("1.0-1", "1.0-01"),
    ("1.0-0", "1.0-00"),
    ("0001.0010", "1.10"),
    ("1.", "1.0"),
    ("1:1.0", "+1:1.0"),
    (" 1.0 ", "1.0"),
    ("1.0.", "1.0.0"),
]

INVALID = {
    "": "version string is empty",
    " \t": "version string is empty",
    "1.0 1": "embedded spaces",
    "1.0\t-1": "embedded spaces",
    ":1.0": "epoch in version is empty",
    "a:1.0": "epoch in version is empty",
    "1a:1.0": "epoch in version is not number",
    "1.0:2": "epoch in version is not number",
    "-1:1.0": "epoch in version is negative",
    "2147483648:1.0": "epoch in version is too big",
    "1:": "nothing after colon",
    "1.0-": "revision number is empty",
    "1:-1": "version number is empty",
    "-1": "version number is empty",
    "1.0_1": "invalid character in version number",
    "1.0^git1": "invalid character in version number",
    "1.0é": "invalid character in version number",
    "1.0\n": "invalid character in version number",
    "1.0-1_2": "invalid character in revision number",
    "1.0-1:2": "epoch in version is not number",
    "1:1.0-1:2": "invalid character in revision number",
}


@pytest.mark.parametrize("chain", ASCENDING, ids=lambda c: c[0])
def test_chains_are_strictly_ascending(chain: list[str]) -> None:
    for index, low in enumerate(chain):
        for high in chain[index + 1 :]:
            assert deb.compare(low, high) == -1, (low, high)
            assert deb.compare(high, low) == 1, (high, low)
    assert sorted(reversed(chain), key=deb.sort_key) == chain


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_pairs(a: str, b: str) -> None:
    assert deb.compare(a, b) == 0
    assert deb.sort_key(a) == deb.sort_key(b)


@pytest.mark.parametrize(("version", "problem"), sorted(INVALID.items()))
def test_invalid_versions_raise_input_error(version: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as info:
        deb.compare(version, "1.0")
    message = str(info.value)
    assert repr(version) in message
    assert "\n" not in message


def test_upstream_not_starting_with_a_digit_is_accepted_like_dpkg() -> None:
    # dpkg --compare-versions only warns for these and orders them; so do we.
    assert deb.compare("abc", "abd") == -1
    assert deb.compare("~1", "1") == -1
    assert deb.compare("a", "1") == 1


def test_parse_splits_on_first_colon_and_last_hyphen() -> None:
    assert deb.parse("1:2.0-beta-3+b1") == deb.DebVersion(1, "2.0-beta", "3+b1")
    assert deb.parse("2.0") == deb.DebVersion(0, "2.0", "")
    assert deb.parse("1:2:3") == deb.DebVersion(1, "2:3", "")


def test_public_face_dispatches_and_rejects_unknown_scheme() -> None:
    assert versions.compare("deb", "1.0~rc1", "1.0") == -1
    assert versions.sort_key("deb", "1.0") == deb.sort_key("1.0")
    with pytest.raises(
        InputError, match=r"unknown version scheme 'nosuch' \(expected one of: apk, deb, rpm\)"
    ):
        versions.compare("nosuch", "1", "2")
    with pytest.raises(InputError, match="unknown version scheme"):
        versions.sort_key("", "1")


# --- properties -------------------------------------------------------------------------

_TOKENS = ["0", "1", "2", "9", "10", "01", "00", "a", "b", "z", "A", "Z", ".", "+", "~", "~~"]
_tail = st.lists(st.sampled_from(_TOKENS), max_size=6).map("".join)
_upstream = st.builds(str.__add__, st.sampled_from(["0", "1", "2", "10", "a", "~"]), _tail)
_revision = st.one_of(st.just(""), _tail.filter(bool), st.builds(str.__add__, _upstream, _tail))
_epoch = st.sampled_from(["", "0:", "1:", "2:", "01:"])
_hyphenated = st.builds(lambda u, r: f"{u}-{r}", _upstream, _upstream)


@st.composite
def deb_versions(draw: st.DrawFn) -> str:
    """Valid Debian versions, built to collide often (shared prefixes, small alphabet)."""
    upstream = draw(_upstream)
    revision = draw(_revision)
    if revision and draw(st.booleans()):
        upstream = draw(_hyphenated)  # an upstream containing '-' needs a revision
    return draw(_epoch) + upstream + (f"-{revision}" if revision else "")


def _order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return -1 if char == "~" else ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """A direct transcription of dpkg's lib/dpkg/version.c verrevcmp(), as the oracle."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            first_diff = first_diff or ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _dpkg_compare(a: str, b: str) -> int:
    pa, pb = deb.parse(a), deb.parse(b)
    if pa.epoch != pb.epoch:
        return pa.epoch - pb.epoch
    return _verrevcmp(pa.upstream, pb.upstream) or _verrevcmp(pa.revision, pb.revision)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@given(deb_versions(), deb_versions())
def test_agrees_with_transcribed_verrevcmp(a: str, b: str) -> None:
    assert deb.compare(a, b) == _sign(_dpkg_compare(a, b))


@given(deb_versions(), deb_versions())
def test_antisymmetric(a: str, b: str) -> None:
    assert deb.compare(a, b) == -deb.compare(b, a)


@given(deb_versions())
def test_reflexive(a: str) -> None:
    assert deb.compare(a, a) == 0


@given(st.lists(deb_versions(), min_size=3, max_size=3))
def test_transitive_on_sorted_triples(triple: list[str]) -> None:
    low, mid, high = sorted(triple, key=deb.sort_key)
    assert deb.compare(low, mid) <= 0
    assert deb.compare(mid, high) <= 0
    assert deb.compare(low, high) <= 0
    if deb.compare(low, mid) == 0 and deb.compare(mid, high) == 0:
        assert deb.compare(low, high) == 0
