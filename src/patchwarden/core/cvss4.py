"""CVSS v4.0 scores: our own implementation of FIRST's CVSS v4.0 scoring algorithm.

A CVSS v4.0 score is not a formula over metric weights: the vector's metric values are
grouped into six equivalence classes (EQ1 to EQ6), the six class numbers form its *macrovector*,
FIRST's lookup table gives the score of the highest-severity vector of each of the 270
macrovectors, and the score of a vector is that score lowered by the mean, over the EQs that
have a next lower macrovector, of (score difference to that lower macrovector) * (severity
distance of the vector from the macrovector's highest-severity vectors / the macrovector's
depth).  The result is rounded half up to one decimal (after adding 10⁻⁶ to absorb float
noise, as the reference calculator does since its rounding fix of 2024-11).

The lookup table (:data:`LOOKUP`), the highest-severity vectors of each EQ class
(``_MAX_EQ1`` …) and the class depths (``_MAX_SEVERITY_EQ1`` …) are facts of the CVSS v4.0
specification's reference implementation, FIRST's calculator
(``github.com/FIRSTdotorg/cvss-v4-calculator`` @ ``c5b0d409``, ``cvss_lookup.js``,
``max_composed.js``, ``max_severity.js``; the rounding as in its upstream
``RedHatProductSecurity/cvss-v4-calculator`` @ ``d1eafe06``, ``cvss40.js``).  The code is ours
and is checked against the reference vectors listed in ``tests/data/cvss4/SOURCES.md``.

:func:`score` scores the vector as written (CVSS-B, -BT, -BE or -BTE, whichever metric groups
it carries: threat ``E``, environmental ``CR IR AR MAV … MSA``; supplemental metrics never
change a score); :func:`base_score` scores its base metrics only (CVSS-B).

>>> score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
9.3
>>> score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
8.1
>>> base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
9.3
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from functools import lru_cache

from patchwarden.errors import InputError

PREFIX = "CVSS:4.0"

BASE_METRICS: dict[str, tuple[str, ...]] = {
    "AV": ("N", "A", "L", "P"),
    "AC": ("L", "H"),
    "AT": ("N", "P"),
    "PR": ("N", "L", "H"),
    "UI": ("N", "P", "A"),
    "VC": ("H", "L", "N"),
    "VI": ("H", "L", "N"),
    "VA": ("H", "L", "N"),
    "SC": ("H", "L", "N"),
    "SI": ("H", "L", "N"),
    "SA": ("H", "L", "N"),
}
"""The mandatory base metrics and their values (``X``, not defined, is not allowed here)."""

OPTIONAL_METRICS: dict[str, tuple[str, ...]] = {
    # threat
    "E": ("X", "A", "P", "U"),
    # environmental: security requirements, then the modified base metrics
    "CR": ("X", "H", "M", "L"),
    "IR": ("X", "H", "M", "L"),
    "AR": ("X", "H", "M", "L"),
    "MAV": ("X", "N", "A", "L", "P"),
    "MAC": ("X", "L", "H"),
    "MAT": ("X", "N", "P"),
    "MPR": ("X", "N", "L", "H"),
    "MUI": ("X", "N", "P", "A"),
    "MVC": ("X", "H", "L", "N"),
    "MVI": ("X", "H", "L", "N"),
    "MVA": ("X", "H", "L", "N"),
    "MSC": ("X", "H", "L", "N"),
    "MSI": ("X", "S", "H", "L", "N"),
    "MSA": ("X", "S", "H", "L", "N"),
    # supplemental (never part of a score)
    "S": ("X", "N", "P"),
    "AU": ("X", "N", "Y"),
    "R": ("X", "A", "U", "I"),
    "V": ("X", "D", "C"),
    "RE": ("X", "L", "M", "H"),
    "U": ("X", "Clear", "Green", "Amber", "Red"),
}
"""The optional metrics (threat, environmental, supplemental) and their values."""

METRICS: dict[str, tuple[str, ...]] = {**BASE_METRICS, **OPTIONAL_METRICS}

_WORST_CASE = {"E": "A", "CR": "H", "IR": "H", "AR": "H"}
"""What a not-defined (``X``) threat or security-requirement metric counts as."""

# fmt: off
LOOKUP: dict[str, float] = {
    "000000": 10.0, "000001": 9.9, "000010": 9.8, "000011": 9.5, "000020": 9.5, "000021": 9.2,
    "000100": 10.0, "000101": 9.6, "000110": 9.3, "000111": 8.7, "000120": 9.1, "000121": 8.1,
    "000200": 9.3, "000201": 9.0, "000210": 8.9, "000211": 8.0, "000220": 8.1, "000221": 6.8,
    "001000": 9.8, "001001": 9.5, "001010": 9.5, "001011": 9.2, "001020": 9.0, "001021": 8.4,
    "001100": 9.3, "001101": 9.2, "001110": 8.9, "001111": 8.1, "001120": 8.1, "001121": 6.5,
    "001200": 8.8, "001201": 8.0, "001210": 7.8, "001211": 7.0, "001220": 6.9, "001221": 4.8,
    "002001": 9.2, "002011": 8.2, "002021": 7.2, "002101": 7.9, "002111": 6.9, "002121": 5.0,
    "002201": 6.9, "002211": 5.5, "002221": 2.7,
    "010000": 9.9, "010001": 9.7, "010010": 9.5, "010011": 9.2, "010020": 9.2, "010021": 8.5,
    "010100": 9.5, "010101": 9.1, "010110": 9.0, "010111": 8.3, "010120": 8.4, "010121": 7.1,
    "010200": 9.2, "010201": 8.1, "010210": 8.2, "010211": 7.1, "010220": 7.2, "010221": 5.3,
    "011000": 9.5, "011001": 9.3, "011010": 9.2, "011011": 8.5, "011020": 8.5, "011021": 7.3,
    "011100": 9.2, "011101": 8.2, "011110": 8.0, "011111": 7.2, "011120": 7.0, "011121": 5.9,
    "011200": 8.4, "011201": 7.0, "011210": 7.1, "011211": 5.2, "011220": 5.0, "011221": 3.0,
    "012001": 8.6, "012011": 7.5, "012021": 5.2, "012101": 7.1, "012111": 5.2, "012121": 2.9,
    "012201": 6.3, "012211": 2.9, "012221": 1.7,
    "100000": 9.8, "100001": 9.5, "100010": 9.4, "100011": 8.7, "100020": 9.1, "100021": 8.1,
    "100100": 9.4, "100101": 8.9, "100110": 8.6, "100111": 7.4, "100120": 7.7, "100121": 6.4,
    "100200": 8.7, "100201": 7.5, "100210": 7.4, "100211": 6.3, "100220": 6.3, "100221": 4.9,
    "101000": 9.4, "101001": 8.9, "101010": 8.8, "101011": 7.7, "101020": 7.6, "101021": 6.7,
    "101100": 8.6, "101101": 7.6, "101110": 7.4, "101111": 5.8, "101120": 5.9, "101121": 5.0,
    "101200": 7.2, "101201": 5.7, "101210": 5.7, "101211": 5.2, "101220": 5.2, "101221": 2.5,
    "102001": 8.3, "102011": 7.0, "102021": 5.4, "102101": 6.5, "102111": 5.8, "102121": 2.6,
    "102201": 5.3, "102211": 2.1, "102221": 1.3,
    "110000": 9.5, "110001": 9.0, "110010": 8.8, "110011": 7.6, "110020": 7.6, "110021": 7.0,
    "110100": 9.0, "110101": 7.7, "110110": 7.5, "110111": 6.2, "110120": 6.1, "110121": 5.3,
    "110200": 7.7, "110201": 6.6, "110210": 6.8, "110211": 5.9, "110220": 5.2, "110221": 3.0,
    "111000": 8.9, "111001": 7.8, "111010": 7.6, "111011": 6.7, "111020": 6.2, "111021": 5.8,
    "111100": 7.4, "111101": 5.9, "111110": 5.7, "111111": 5.7, "111120": 4.7, "111121": 2.3,
    "111200": 6.1, "111201": 5.2, "111210": 5.7, "111211": 2.9, "111220": 2.4, "111221": 1.6,
    "112001": 7.1, "112011": 5.9, "112021": 3.0, "112101": 5.8, "112111": 2.6, "112121": 1.5,
    "112201": 2.3, "112211": 1.3, "112221": 0.6,
    "200000": 9.3, "200001": 8.7, "200010": 8.6, "200011": 7.2, "200020": 7.5, "200021": 5.8,
    "200100": 8.6, "200101": 7.4, "200110": 7.4, "200111": 6.1, "200120": 5.6, "200121": 3.4,
    "200200": 7.0, "200201": 5.4, "200210": 5.2, "200211": 4.0, "200220": 4.0, "200221": 2.2,
    "201000": 8.5, "201001": 7.5, "201010": 7.4, "201011": 5.5, "201020": 6.2, "201021": 5.1,
    "201100": 7.2, "201101": 5.7, "201110": 5.5, "201111": 4.1, "201120": 4.6, "201121": 1.9,
    "201200": 5.3, "201201": 3.6, "201210": 3.4, "201211": 1.9, "201220": 1.9, "201221": 0.8,
    "202001": 6.4, "202011": 5.1, "202021": 2.0, "202101": 4.7, "202111": 2.1, "202121": 1.1,
    "202201": 2.4, "202211": 0.9, "202221": 0.4,
    "210000": 8.8, "210001": 7.5, "210010": 7.3, "210011": 5.3, "210020": 6.0, "210021": 5.0,
    "210100": 7.3, "210101": 5.5, "210110": 5.9, "210111": 4.0, "210120": 4.1, "210121": 2.0,
    "210200": 5.4, "210201": 4.3, "210210": 4.5, "210211": 2.2, "210220": 2.0, "210221": 1.1,
    "211000": 7.5, "211001": 5.5, "211010": 5.8, "211011": 4.5, "211020": 4.0, "211021": 2.1,
    "211100": 6.1, "211101": 5.1, "211110": 4.8, "211111": 1.8, "211120": 2.0, "211121": 0.9,
    "211200": 4.6, "211201": 1.8, "211210": 1.7, "211211": 0.7, "211220": 0.8, "211221": 0.2,
    "212001": 5.3, "212011": 2.4, "212021": 1.4, "212101": 2.4, "212111": 1.2, "212121": 0.5,
    "212201": 1.0, "212211": 0.3, "212221": 0.1,
}
# fmt: on
"""Score of the highest-severity vector of each of the 270 macrovectors (EQ1…EQ6 digits)."""

_MAX_EQ1 = {
    0: ("AV:N/PR:N/UI:N",),
    1: ("AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"),
    2: ("AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"),
}
_MAX_EQ2 = {0: ("AC:L/AT:N",), 1: ("AC:H/AT:N", "AC:L/AT:P")}
_MAX_EQ3_EQ6 = {
    (0, 0): ("VC:H/VI:H/VA:H/CR:H/IR:H/AR:H",),
    (0, 1): ("VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"),
    (1, 0): ("VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"),
    (1, 1): (
        "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
        "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
        "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
        "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
        "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
    ),
    (2, 1): ("VC:L/VI:L/VA:L/CR:H/IR:H/AR:H",),
}
_MAX_EQ4 = {0: ("SC:H/SI:S/SA:S",), 1: ("SC:H/SI:H/SA:H",), 2: ("SC:L/SI:L/SA:L",)}
_MAX_EQ5 = {0: ("E:A",), 1: ("E:P",), 2: ("E:U",)}
"""The highest-severity vectors of each EQ class (EQ3 and EQ6 are joint), in the reference's
order: the first composed vector that the scored vector does not exceed is the one used."""

_MAX_SEVERITY_EQ1 = {0: 1, 1: 4, 2: 5}
_MAX_SEVERITY_EQ2 = {0: 1, 1: 2}
_MAX_SEVERITY_EQ3_EQ6 = {(0, 0): 7, (0, 1): 6, (1, 0): 8, (1, 1): 8, (2, 1): 10}
_MAX_SEVERITY_EQ4 = {0: 6, 1: 5, 2: 4}
"""Depth of each EQ class (its largest severity distance + 1), in steps of 0.1."""

_LEVELS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3},
    "PR": {"N": 0.0, "L": 0.1, "H": 0.2},
    "UI": {"N": 0.0, "P": 0.1, "A": 0.2},
    "AC": {"L": 0.0, "H": 0.1},
    "AT": {"N": 0.0, "P": 0.1},
    "VC": {"H": 0.0, "L": 0.1, "N": 0.2},
    "VI": {"H": 0.0, "L": 0.1, "N": 0.2},
    "VA": {"H": 0.0, "L": 0.1, "N": 0.2},
    "SC": {"H": 0.1, "L": 0.2, "N": 0.3},
    "SI": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
    "SA": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
    "CR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "IR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "AR": {"H": 0.0, "M": 0.1, "L": 0.2},
}
"""Severity level of each value (0.0 the most severe) for the severity distances."""

_STEP = 0.1
_EPSILON = 1e-6
_IMPACT = ("VC", "VI", "VA", "SC", "SI", "SA")


def _problem(vector: str, problem: str) -> InputError:
    shown = vector if len(vector) <= 200 else vector[:200] + "…"
    return InputError(f"CVSS vector {shown!r}: {problem}")


def parse(vector: str) -> dict[str, str]:
    """The metrics of a ``CVSS:4.0/…`` vector as written, validated.

    The base metrics must each appear exactly once; threat, environmental and supplemental
    metrics are optional (``X`` = not defined).  Metric order is not enforced.  Raises
    :class:`~patchwarden.errors.InputError` naming the vector and the problem.
    """
    text = vector.strip()
    prefix, _, body = text.partition("/")
    if prefix != PREFIX:
        raise _problem(vector, f"does not start with {PREFIX}/")
    found: dict[str, str] = {}
    for part in body.split("/"):
        key, sep, value = part.partition(":")
        if not sep or not key:
            raise _problem(vector, f"{part!r} is not METRIC:VALUE")
        if key not in METRICS:
            raise _problem(vector, f"unknown metric {key!r}")
        if key in found:
            raise _problem(vector, f"metric {key} given twice")
        if value not in METRICS[key]:
            raise _problem(vector, f"{key}:{value} is not a valid value")
        found[key] = value
    missing = [key for key in BASE_METRICS if key not in found]
    if missing:
        raise _problem(vector, f"missing base metric {missing[0]}")
    return found


def _effective(metrics: Mapping[str, str], metric: str) -> str:
    """The value a metric counts with: a not-defined ``E``/``CR``/``IR``/``AR`` is its worst
    case, a defined modified metric (``MAV`` …) replaces its base metric."""
    value = metrics.get(metric, "X")
    if value == "X" and metric in _WORST_CASE:
        return _WORST_CASE[metric]
    modified = metrics.get("M" + metric, "X")
    return modified if modified != "X" else value


def macrovector(metrics: Mapping[str, str]) -> str:
    """The six EQ class digits of validated metrics (see :func:`parse`), e.g. ``"000200"``."""
    m = {key: _effective(metrics, key) for key in (*BASE_METRICS, "E", "CR", "IR", "AR")}
    if m["AV"] == "N" and m["PR"] == "N" and m["UI"] == "N":
        eq1 = 0
    elif (m["AV"] == "N" or m["PR"] == "N" or m["UI"] == "N") and m["AV"] != "P":
        eq1 = 1
    else:
        eq1 = 2
    eq2 = 0 if m["AC"] == "L" and m["AT"] == "N" else 1
    if m["VC"] == "H" and m["VI"] == "H":
        eq3 = 0
    elif "H" in (m["VC"], m["VI"], m["VA"]):
        eq3 = 1
    else:
        eq3 = 2
    if metrics.get("MSI") == "S" or metrics.get("MSA") == "S":
        eq4 = 0
    elif "H" in (m["SC"], m["SI"], m["SA"]):
        eq4 = 1
    else:
        eq4 = 2
    eq5 = {"A": 0, "P": 1, "U": 2}[m["E"]]
    high_requirement = (
        (m["CR"] == "H" and m["VC"] == "H")
        or (m["IR"] == "H" and m["VI"] == "H")
        or (m["AR"] == "H" and m["VA"] == "H")
    )
    eq6 = 0 if high_requirement else 1
    return f"{eq1}{eq2}{eq3}{eq4}{eq5}{eq6}"


def _round(value: float) -> float:
    """Round half up to one decimal after adding 10⁻⁶, like the reference's
    ``Math.round((value + EPSILON) * 10) / 10`` (``8.6 - 7.15`` = 1.4499… gives 1.5)."""
    scaled = (value + _EPSILON) * 10
    whole = math.floor(scaled)
    if scaled - whole >= 0.5:
        whole += 1
    return whole / 10


def _parse_max(text: str) -> dict[str, str]:
    return {key: value for key, _, value in (part.partition(":") for part in text.split("/"))}


def _score(metrics: Mapping[str, str]) -> float:
    """The score of validated metrics (the reference implementation's algorithm)."""
    if all(_effective(metrics, key) == "N" for key in _IMPACT):
        return 0.0
    macro = macrovector(metrics)
    eq1, eq2, eq3, eq4, eq5, eq6 = (int(digit) for digit in macro)
    value = LOOKUP[macro]

    # 1a. Maximal scoring difference to the next lower macrovector of each EQ (none: skipped).
    def lower(*digits: int) -> float | None:
        return LOOKUP.get("".join(str(d) for d in digits))

    lower_eq1 = lower(eq1 + 1, eq2, eq3, eq4, eq5, eq6)
    lower_eq2 = lower(eq1, eq2 + 1, eq3, eq4, eq5, eq6)
    if (eq3, eq6) == (0, 0):  # two ways down (00 → 01, 00 → 10): the higher score
        left = lower(eq1, eq2, eq3, eq4, eq5, eq6 + 1)
        right = lower(eq1, eq2, eq3 + 1, eq4, eq5, eq6)
        lower_eq3_eq6 = None if left is None or right is None else max(left, right)
    elif (eq3, eq6) == (1, 0):  # 10 → 11
        lower_eq3_eq6 = lower(eq1, eq2, eq3, eq4, eq5, eq6 + 1)
    elif (eq3, eq6) in ((0, 1), (1, 1)):  # 01 → 11, 11 → 21
        lower_eq3_eq6 = lower(eq1, eq2, eq3 + 1, eq4, eq5, eq6)
    else:  # 21: the lowest
        lower_eq3_eq6 = None
    lower_eq4 = lower(eq1, eq2, eq3, eq4 + 1, eq5, eq6)
    lower_eq5 = lower(eq1, eq2, eq3, eq4, eq5 + 1, eq6)

    # 1b. Severity distance from the first highest-severity vector of the macrovector that
    # the vector does not exceed (the last one tried when there is none, as the reference).
    effective = {key: _effective(metrics, key) for key in _LEVELS}
    distances: dict[str, float] = {}
    for parts in itertools.product(
        _MAX_EQ1[eq1], _MAX_EQ2[eq2], _MAX_EQ3_EQ6[eq3, eq6], _MAX_EQ4[eq4], _MAX_EQ5[eq5]
    ):
        highest = _parse_max("/".join(parts))
        distances = {
            key: levels[effective[key]] - levels[highest[key]] for key, levels in _LEVELS.items()
        }
        if all(distance >= 0 for distance in distances.values()):
            break
    d = distances
    distance_eq1 = d["AV"] + d["PR"] + d["UI"]
    distance_eq2 = d["AC"] + d["AT"]
    distance_eq3_eq6 = d["VC"] + d["VI"] + d["VA"] + d["CR"] + d["IR"] + d["AR"]
    distance_eq4 = d["SC"] + d["SI"] + d["SA"]

    # 1c-d. Proportion of the distance in the macrovector's depth, times the scoring difference;
    # EQ5's distance is always 0.  2. Their mean over the EQs that have a lower macrovector.
    existing = 0
    normalized = [0.0, 0.0, 0.0, 0.0, 0.0]
    steps = (
        (lower_eq1, distance_eq1, _MAX_SEVERITY_EQ1[eq1] * _STEP),
        (lower_eq2, distance_eq2, _MAX_SEVERITY_EQ2[eq2] * _STEP),
        (lower_eq3_eq6, distance_eq3_eq6, _MAX_SEVERITY_EQ3_EQ6[eq3, eq6] * _STEP),
        (lower_eq4, distance_eq4, _MAX_SEVERITY_EQ4[eq4] * _STEP),
        (lower_eq5, 0.0, 0.0),
    )
    for index, (lower_score, distance, depth) in enumerate(steps):
        if lower_score is None:
            continue
        existing += 1
        if depth:
            normalized[index] = (value - lower_score) * (distance / depth)
    mean = 0.0
    if existing:
        total = normalized[0] + normalized[1] + normalized[2] + normalized[3] + normalized[4]
        mean = total / existing
    # 3. The macrovector's score minus the mean distance, within [0, 10], one decimal.
    return _round(max(0.0, min(10.0, value - mean)))


@lru_cache(maxsize=16_384)
def score(vector: str) -> float:
    """The CVSS v4.0 score of ``vector`` as written: CVSS-B for base metrics only, CVSS-BT,
    -BE or -BTE when it carries threat and/or environmental metrics (supplemental metrics
    are validated and do not change the score).  Raises ``InputError`` when malformed."""
    return _score(parse(vector))


@lru_cache(maxsize=16_384)
def base_score(vector: str) -> float:
    """The CVSS-B score of ``vector``: its base metrics only; threat, environmental and
    supplemental metrics are validated, then ignored.  Raises ``InputError`` when malformed."""
    metrics = parse(vector)
    return _score({key: metrics[key] for key in BASE_METRICS})
