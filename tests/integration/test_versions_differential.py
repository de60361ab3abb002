"""Differential tests: our version ordering against the real dpkg and rpm on this machine.

deb oracle: ``dpkg --compare-versions A OP B``, one process per pair. OP is the relation our
comparator claims (lt / eq / gt), so exit status 0 confirms our three-way answer exactly.

rpm oracle: rpm 4.18's Lua ``rpm.vercmp(a, b)``, all pairs in ONE ``rpm --eval`` run. On
rpm 4.18 it parses both strings as EVRs (``rpmverParse``) and compares them with
``rpmverCmp`` (epoch, then version and release with ``rpmvercmp``; a missing release sorts
first, like python3-rpm's ``labelCompare``); it is *not* the plain-string ``rpmvercmp`` of
older rpm: ``rpm.vercmp("2.0", "1:1.0") == -1``. The script cross-checks every answer with
``rpm.ver(a)``/``rpm.ver(b)`` objects, and the test asserts the oracle's EVR semantics first.
"""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import lzma
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from patchwarden.core.versions import deb, rpm

pytestmark = pytest.mark.slow

SEED = 20261127
DEB_MIN_PAIRS = 20_000
RPM_MIN_PAIRS = 10_000
APT_LISTS = Path("/var/lib/apt/lists")
_PACKAGE_VERSION = re.compile(rb"^Package: (\S+)\n(?:[^\n]+\n)*?Version: (\S+)$", re.M)
_RELATION = {-1: "lt", 0: "eq", 1: "gt"}

Pair = tuple[str, str]


def _unit_cases(name: str) -> ModuleType:
    """The hand-written cases of tests/unit/<name>.py, to check them against the tool too."""
    path = Path(__file__).parents[1] / "unit" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_differential_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(mismatches: list[tuple[str, str, Any, Any]], total: int, tool: str) -> str:
    lines = [
        f"{len(mismatches)} of {total} pairs disagree with {tool}; first 20 (a, b, ours, tool):"
    ]
    lines += [
        f"  {a!r} {b!r} ours={ours} {tool}={theirs}" for a, b, ours, theirs in mismatches[:20]
    ]
    return "\n".join(lines)


def _add(pairs: dict[Pair, None], a: str, b: str) -> None:
    if (b, a) not in pairs:
        pairs[(a, b)] = None


def _neighbours_and_random(
    pool: list[str],
    key: Callable[[str], Any],
    rng: random.Random,
    pairs: dict[Pair, None],
    neighbours: int,
    randoms: int,
) -> None:
    """Add sorted neighbours (every n-th, about ``neighbours`` of them) and random pairs."""
    ordered = sorted(pool, key=key)
    step = max(1, len(ordered) // max(1, neighbours))
    for index in range(0, len(ordered) - 1, step):
        _add(pairs, ordered[index], ordered[index + 1])
    for _ in range(randoms if len(pool) > 1 else 0):
        _add(pairs, *rng.sample(pool, 2))


# --- deb -------------------------------------------------------------------------------


def _apt_index_versions() -> dict[str, set[str]]:
    """Package -> versions from this machine's apt indices (any compression)."""
    found: dict[str, set[str]] = {}
    for path in sorted(APT_LISTS.glob("*_Packages*")):
        raw = path.read_bytes()
        if path.suffix == ".lz4":
            import lz4.frame

            raw = lz4.frame.decompress(raw)
        elif path.suffix == ".gz":
            raw = gzip.decompress(raw)
        elif path.suffix == ".xz":
            raw = lzma.decompress(raw)
        elif path.suffix:
            continue  # .diff/Index and friends
        for name, version in _PACKAGE_VERSION.findall(raw):
            found.setdefault(name.decode(), set()).add(version.decode())
    return found


def _installed_versions() -> dict[str, str]:
    argv = ["dpkg-query", "-W", "-f=${Package}\t${Version}\n"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = (line.split("\t", 1) for line in out.splitlines())
    return {name: version for name, version in rows if version}


# fmt: off
_DEB_TOKENS = [
    "0", "1", "2", "9", "10", "01", "00", "99999999999999999999", "a", "b", "z", "A", "Z",
    "rc", "dfsg", "b1", "deb12u", "ubuntu", ".", "+", "~", "~~"
]
# fmt: on


def _random_deb(rng: random.Random) -> str:
    def tail() -> str:
        return "".join(rng.choice(_DEB_TOKENS) for _ in range(rng.randint(0, 6)))

    first = rng.choice("0123456789") if rng.random() < 0.9 else rng.choice("aZ~+.")
    upstream = first + tail()
    revision = tail() if rng.random() < 0.6 else ""
    if revision and rng.random() < 0.15:
        upstream += "-" + rng.choice("0123456789") + tail()  # '-' in upstream needs a revision
    epoch = rng.choice(["", "", "", "0:", "1:", "2:", "01:", "10:"])
    if epoch and rng.random() < 0.1:
        upstream += ":" + rng.choice("0123456789")  # ':' in upstream needs an epoch
    return epoch + upstream + (f"-{revision}" if revision else "")


def _mutate_deb(version: str, rng: random.Random) -> str:
    suffix = rng.choice(["~", "~~", "a", "+", ".", "0", "1", ".0", "+b1", "~rc1", "-0", "-1"])
    candidate = version + suffix
    try:
        deb.parse(candidate)
    except ValueError:
        return version + "0"
    return candidate


def _deb_pairs() -> tuple[list[Pair], dict[str, int]]:
    rng = random.Random(SEED)
    pairs: dict[Pair, None] = {}
    counts: dict[str, int] = {}
    index = _apt_index_versions()
    installed = _installed_versions()
    for name, version in installed.items():
        for other in sorted(index.get(name, ())):
            _add(pairs, version, other)
    for versions in index.values():
        ordered = sorted(versions)
        for a, b in itertools.pairwise(ordered):
            _add(pairs, a, b)
    counts["installed/same-package"] = len(pairs)
    pool = sorted({v for vs in index.values() for v in vs} | set(installed.values()))
    _neighbours_and_random(pool, deb.sort_key, rng, pairs, neighbours=6000, randoms=3000)
    cases = _unit_cases("test_versions_deb")
    for a, b in cases.EQUAL:
        _add(pairs, a.strip(), b.strip())
    for chain in cases.ASCENDING:
        for a, b in itertools.pairwise(chain):
            _add(pairs, a, b)
    counts["real + hand-written"] = len(pairs)
    generated = [_random_deb(rng) for _ in range(6000)]
    # Without apt indices (a fresh box) the generated cases alone reach the minimum.
    target = len(pairs) + (4000 if index else DEB_MIN_PAIRS)
    while len(pairs) < max(target, DEB_MIN_PAIRS + 500):
        a = rng.choice(generated)
        _add(pairs, a, _mutate_deb(a, rng) if rng.random() < 0.5 else rng.choice(generated))
    counts["generated"] = len(pairs) - counts["real + hand-written"]
    return list(pairs), counts


def _dpkg_confirms(pair: Pair) -> tuple[str, str, int, bool]:
    a, b = pair
    ours = deb.compare(a, b)
    argv = ["dpkg", "--compare-versions", a, _RELATION[ours], b]
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return a, b, ours, result.returncode == 0


def _dpkg_answer(a: str, b: str) -> str:
    for relation in ("lt", "eq", "gt"):
        argv = ["dpkg", "--compare-versions", a, relation, b]
        if subprocess.run(argv, stderr=subprocess.DEVNULL).returncode == 0:
            return relation
    return "error"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_deb_matches_dpkg_compare_versions() -> None:
    pairs, counts = _deb_pairs()
    assert len(pairs) >= DEB_MIN_PAIRS, counts
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_dpkg_confirms, pairs, chunksize=64))
    mismatches = [(a, b, _RELATION[o], _dpkg_answer(a, b)) for a, b, o, ok in results if not ok]
    assert not mismatches, _report(mismatches, len(pairs), "dpkg") + f"\npairs: {counts}"


# --- rpm -------------------------------------------------------------------------------

_LUA = """%{lua:
local out = {}
for line in io.lines("PAIRS") do
  local a, b = line:match("^([^\\t]*)\\t([^\\t]*)$")
  local va, vb = rpm.ver(a), rpm.ver(b)
  local obj = (va < vb) and -1 or ((va == vb) and 0 or 1)
  out[#out + 1] = rpm.vercmp(a, b) .. " " .. obj
end
print(table.concat(out, "\\n"))
}"""

# fmt: off
_RPM_TOKENS = [
    "0", "1", "2", "9", "01", "10", "00", "20160101", "99999999999999999999", "a", "b", "rc",
    "git", "Z", "el", "fc", ".", ".", "_", "+", "~", "^", "%{", "}"
]
_REAL_EVRS = [
    "1:2.17-326.el7_9.3", "2.17-326.el7_9", "5.14.0-362.8.1.el9_3", "5.14.0-362.24.1.el9_3",
    "5.14.0-70.13.1.el9_0", "1.2.3-4.amzn2023.0.10", "1.2.3-4.amzn2023.0.9", "1.2.3-4.amzn2",
    "3.0.7-25.el9", "3.0.7-25.el9_3", "1:3.0.7-27.el9", "2:8.2.2637-20.el9_1", "0:1.0-1.fc38",
    "32:9.18.21-1.fc38", "4.18.0-513.5.1.el8_9", "1.1.1k-12.el8_9", "2.0.0-0.1.rc1.fc39",
    "6.5.0-0.rc7.fc40", "1.0^20230101git1234abc-1.fc38", "1.0~rc1^git1-2", "3.11.5-1.fc39"
]
# fmt: on


def _random_rpm(rng: random.Random) -> str:
    def part() -> str:
        return "".join(rng.choice(_RPM_TOKENS) for _ in range(rng.randint(1, 6)))

    epoch = rng.choice(["", "", "", "0:", "1:", "2:", "01:"])
    return epoch + part() + (f"-{part()}" if rng.random() < 0.5 else "")


def _realistic_rpm(rng: random.Random) -> str:
    version = ".".join(
        str(rng.choice([0, 1, 2, 3, 5, 10, 14, 18])) for _ in range(rng.randint(1, 3))
    )
    version += rng.choice(["", "", "~rc1", "^git1", "a", "p1"])
    dist = rng.choice(["el7_9", "el8", "el8_9", "el9", "el9_3", "amzn2", "amzn2023.0.10", "fc38"])
    if rng.random() < 0.5:
        release = f"{rng.randint(0, 30)}.{dist}"
    else:
        release = f"{rng.randint(1, 400)}.{rng.randint(1, 30)}.1.{dist}"
    return rng.choice(["", "", "1:", "2:"]) + version + f"-{release}"


def _mutate_rpm(evr: str, rng: random.Random) -> str:
    return evr + rng.choice(["~", "^", "a", ".", "0", "1", "^git1", "~rc1", ".1", "_1", "%{x}"])


def _rpm_pairs() -> list[Pair]:
    rng = random.Random(SEED)
    pairs: dict[Pair, None] = {}
    cases = _unit_cases("test_versions_rpm")
    for a, b, _expected in cases.RPMVERCMP_AT + cases.EVR_CASES:
        _add(pairs, a, b)
    pool = _REAL_EVRS + [_realistic_rpm(rng) for _ in range(3000)]
    pool += [_random_rpm(rng) for _ in range(4000)]
    _neighbours_and_random(
        sorted(set(pool)), rpm.sort_key, rng, pairs, neighbours=5000, randoms=3000
    )
    while len(pairs) < RPM_MIN_PAIRS + 2000:
        a = rng.choice(pool)
        _add(pairs, a, _mutate_rpm(a, rng) if rng.random() < 0.6 else rng.choice(pool))
    return list(pairs)


def _rpm_eval(pairs: Iterable[Pair], tmp_path: Path) -> list[tuple[int, int]]:
    table = tmp_path / "pairs.tsv"
    table.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    script = _LUA.replace("PAIRS", str(table))
    out = subprocess.run(["rpm", "--eval", script], capture_output=True, text=True, check=True)
    return [(int(x), int(y)) for x, y in (line.split() for line in out.stdout.splitlines() if line)]


@pytest.mark.skipif(
    shutil.which("rpm") is None, reason="rpm is not installed (apt-get install rpm)"
)
def test_rpm_matches_rpm_vercmp(tmp_path: Path) -> None:
    # The oracle must compare EVRs (as rpm 4.18 does), not plain strings: check it first.
    assert _rpm_eval([("2.0", "1:1.0"), ("1.0", "1.0-1")], tmp_path) == [(-1, -1), (-1, -1)]
    pairs = _rpm_pairs()
    assert len(pairs) >= RPM_MIN_PAIRS
    answers = _rpm_eval(pairs, tmp_path)
    assert len(answers) == len(pairs)
    assert all(vercmp == obj for vercmp, obj in answers), "rpm.vercmp and rpm.ver disagree"
    mismatches = [
        (a, b, rpm.compare(a, b), theirs)
        for (a, b), (theirs, _) in zip(pairs, answers, strict=True)
        if rpm.compare(a, b) != theirs
    ]
    assert not mismatches, _report(mismatches, len(pairs), "rpm")
