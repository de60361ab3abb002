"""RPM version ordering: rpm's own tests/rpmvercmp.at, EVR cases (checked with rpm 4.18)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchwarden import versions
from patchwarden.core.versions import rpm
from patchwarden.errors import InputError

# rpm's tests/rpmvercmp.at (4.18), one direction each; the tests also check the reverse.
RPMVERCMP_AT = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("5.5p1", "5.5p1", 0),
    ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1),
    ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("xyz.4", "2", -1), ("5.5p2", "5.6p1", -1),
    ("5.6p1", "6.5p1", -1), ("6.0.rc1", "6.0", 1), ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("10.0001", "10.0001", 0),
    ("10.0001", "10.1", 0), ("10.0001", "10.0039", -1), ("4.999.9", "5.0", -1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("2_0", "2_0", 0),
    ("2.0", "2_0", 0), ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("+a", "+a", 0),
    ("+a", "_a", 0), ("+_", "+_", 0), ("_+", "+_", 0), ("_+", "_+", 0), ("+", "_", 0),
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0^git1", "1.0^git1", 0),
    ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0^git2", -1), ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0), ("1.0^20160102", "1.0^20160101^git1", 1),
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0^git1~pre", "1.0^git1~pre", 0), ("1.0^git1", "1.0^git1~pre", 1),
    # the "oddities" rpm documents as current behaviour (RhBug:811992)
    ("1b.fc17", "1b.fc17", 0), ("1b.fc17", "1.fc17", -1), ("1g.fc17", "1.fc17", 1),
]  # fmt: skip

EVR_CASES = [
    ("1:1.0-1", "1.0-2", 1),  # epoch first
    ("2.0", "1:1.0", -1),
    ("0:1.0-1", "1.0-1", 0),  # missing epoch == 0
    ("00:1.0", "0:1.0", 0),
    ("1.0", "1.0-0", -1),  # labelCompare: a missing release sorts before any release
    ("1.0", "1.0-1", -1),
    ("1.0-1", "1.0~rc1-5", 1),
    ("1.0-1^", "1.0-1", 1),
    ("1.0~^", "1.0~", 1),
    ("1.0~^", "1.0", -1),
    ("1.0^~", "1.0", 1),
    ("1:2.17-326.el7_9.3", "1:2.17-326.el7_9", 1),
    ("1:2.17-326.el7_9.3", "2.17-999.el7", 1),
    ("5.14.0-362.8.1.el9_3", "5.14.0-362.24.1.el9_3", -1),
    ("5.14.0-362.8.1.el9_3", "5.14.0-70.13.1.el9_0", 1),
    ("1.2.3-4.amzn2023.0.10", "1.2.3-4.amzn2023.0.9", 1),
    ("1.2.3-4.amzn2023.0.10", "1.2.3-4.amzn2", 1),
    ("3.0.7-25.el9", "3.0.7-25.el9_3", -1),
    ("1.0-1.fc38", "1.0-1.fc38.1", -1),
    ("1.0-0.1.rc1.fc38", "1.0-1.fc38", -1),
    ("99999999999999999999-1", "100000000000000000000-1", -1),
    ("%{x}1", "1", -1),  # '%', '{', '}' are separators; "x" is a letter segment
]

INVALID = {
    "": "version string is empty",
    ":1.0": "epoch is empty",
    "1:": "version is empty",
    "-1": "version is empty",
    "1.0-": "release is empty",
    "1.0-1-2": "invalid character '-'",
    "a:1.0": "invalid character ':'",
    "1:2:3": "invalid character ':'",
    "1.0 ": "invalid character ' '",
    "1.1.\u03b1": "invalid character '\u03b1'",
    "1.0-1\n": "invalid character",
}


@pytest.mark.parametrize(("a", "b", "expected"), RPMVERCMP_AT + EVR_CASES)
def test_known_cases_both_directions(a: str, b: str, expected: int) -> None:
    assert rpm.compare(a, b) == expected
    assert rpm.compare(b, a) == -expected
    assert (rpm.sort_key(a) == rpm.sort_key(b)) == (expected == 0)


@pytest.mark.parametrize(("evr", "problem"), sorted(INVALID.items()))
def test_invalid_evrs_raise_input_error(evr: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as info:
        rpm.compare("1.0", evr)
    assert repr(evr) in str(info.value)


def test_parse() -> None:
    assert rpm.parse("1:2.17-326.el7_9.3") == rpm.RpmEVR(1, "2.17", "326.el7_9.3")
    assert rpm.parse("2.17") == rpm.RpmEVR(0, "2.17", None)
    assert rpm.parse("007:1^git") == rpm.RpmEVR(7, "1^git", None)


def test_public_face() -> None:
    assert versions.compare("rpm", "1.0^git1", "1.0") == 1
    evrs = ["1.0-1", "1:0.1", "1.0", "1.0~rc1-5"]
    assert sorted(evrs, key=lambda v: versions.sort_key("rpm", v)) == [
        "1.0~rc1-5", "1.0", "1.0-1", "1:0.1",
    ]  # fmt: skip


# --- properties -------------------------------------------------------------------------

_TOKENS = ["0", "1", "2", "01", "10", "a", "b", "rc", "Z", ".", "_", "+", "~", "^", "%{", "}"]
_part = st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=6).map("".join)
_epoch = st.sampled_from(["", "0:", "1:", "2:", "01:"])
_release = st.one_of(st.just(""), _part.map(lambda r: f"-{r}"))
rpm_evrs = st.builds(lambda e, v, r: e + v + r, _epoch, _part, _release)


def _rpmvercmp(a: str, b: str) -> int:
    """A direct transcription of rpm's rpmio/rpmvercmp.c, as the oracle."""
    if a == b:
        return 0
    i = j = 0

    def skip(s: str, k: int) -> int:
        while k < len(s) and not (s[k].isascii() and s[k].isalnum()) and s[k] not in "~^":
            k += 1
        return k

    while i < len(a) or j < len(b):
        i, j = skip(a, i), skip(b, j)
        ca, cb = a[i : i + 1], b[j : j + 1]
        if "~" in (ca, cb):
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (ca, cb):
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        pred = str.isdigit if ca.isdigit() else str.isalpha
        ei, ej = i, j
        while ei < len(a) and pred(a[ei]):
            ei += 1
        while ej < len(b) and pred(b[ej]):
            ej += 1
        sa, sb = a[i:ei], b[j:ej]
        if not sb:
            return 1 if pred is str.isdigit else -1
        if pred is str.isdigit:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
        i, j = ei, ej
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def _label_compare(a: str, b: str) -> int:
    pa, pb = rpm.parse(a), rpm.parse(b)
    if pa.epoch != pb.epoch:
        return 1 if pa.epoch > pb.epoch else -1
    rc = _rpmvercmp(pa.version, pb.version)
    if rc or pa.release == pb.release:
        return rc
    if pa.release is None or pb.release is None:
        return -1 if pa.release is None else 1
    return _rpmvercmp(pa.release, pb.release)


@given(rpm_evrs, rpm_evrs)
def test_agrees_with_transcribed_rpmvercmp(a: str, b: str) -> None:
    assert rpm.compare(a, b) == _label_compare(a, b)


@given(rpm_evrs, rpm_evrs)
def test_antisymmetric(a: str, b: str) -> None:
    assert rpm.compare(a, b) == -rpm.compare(b, a)


@given(rpm_evrs)
def test_reflexive(a: str) -> None:
    assert rpm.compare(a, a) == 0


@given(st.lists(rpm_evrs, min_size=3, max_size=3))
def test_transitive_on_sorted_triples(triple: list[str]) -> None:
    low, mid, high = sorted(triple, key=rpm.sort_key)
    assert rpm.compare(low, mid) <= 0
    assert rpm.compare(mid, high) <= 0
    assert rpm.compare(low, high) <= 0
    if rpm.compare(low, mid) == 0 and rpm.compare(mid, high) == 0:
        assert rpm.compare(low, high) == 0
