"""CVSS base scores from vectors (v4.0, v3.x, v2), and the vendor ratings mapped to severities.

Own implementation of FIRST's published formulas (CVSS v3.1 specification §7.1 and Appendix
A's ``Roundup``; v3.0 §8.1 with its plain ceiling; v2 §3.2.1).  CVSS v4.0 has no formula (its
score comes from a lookup table of macrovectors and an interpolation): our own implementation
of FIRST's algorithm is :mod:`patchwarden.core.cvss4`.  Only the *base* score is computed here:
temporal (v3/v2), threat (v4) and environmental metrics in a vector are accepted and ignored.

>>> base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
9.8
>>> base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P")
7.5
>>> base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
9.3
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from patchwarden.core import cvss4
from patchwarden.core.vuln import Advisory, Severity
from patchwarden.errors import InputError

_V3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},
    "UI": {"N": 0.85, "R": 0.62},
    "S": {"U": 0.0, "C": 0.0},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}

_V2_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}

VENDOR_SEVERITY: dict[str, Severity] = {
    # Debian urgency (``unimportant`` = no security impact worth a DSA)
    "unimportant": Severity.INFORMATIONAL,
    # Ubuntu priority (``negligible`` = technically a vulnerability, no real impact)
    "negligible": Severity.INFORMATIONAL,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
    # Red Hat / Alma / Rocky / Amazon / SUSE severities
    "moderate": Severity.MEDIUM,
    "important": Severity.HIGH,
}
"""Vendor rating (lower case, Debian's ``**`` suffix removed) → Inspector severity.  Ratings
that say nothing (``not yet assigned``, ``untriaged``, ``end-of-life``, ``none``) are absent:
such a finding stays UNTRIAGED."""


def vendor_severity(rating: str) -> Severity | None:
    """The severity a vendor rating maps to, ``None`` for an unknown or empty one."""
    hit = VENDOR_SEVERITY.get(rating)
    if hit is not None or not rating:
        return hit
    return VENDOR_SEVERITY.get(rating.strip().rstrip("*").strip().lower())


def _metrics(parts: list[str], weights: dict[str, dict[str, float]], vector: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition(":")
        if not sep:
            raise InputError(f"CVSS vector {vector!r}: {part!r} is not METRIC:VALUE")
        if key in found:
            raise InputError(f"CVSS vector {vector!r}: metric {key} given twice")
        if key in weights and value not in weights[key]:
            raise InputError(f"CVSS vector {vector!r}: {key}:{value} is not a valid value")
        found[key] = value
    missing = [k for k in weights if k not in found]
    if missing:
        raise InputError(f"CVSS vector {vector!r}: missing base metric {missing[0]}")
    return found


def roundup(value: float) -> float:
    """CVSS v3.1 ``Roundup``: the smallest one-decimal number ≥ ``value``, immune to float noise."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10


def _v3(parts: list[str], vector: str, minor: str) -> float:
    m = _metrics(parts, _V3_WEIGHTS, vector)
    w = {k: _V3_WEIGHTS[k][m[k]] for k in _V3_WEIGHTS}
    changed = m["S"] == "C"
    pr = _V3_PR_CHANGED[m["PR"]] if changed else w["PR"]
    iss = 1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * w["AV"] * w["AC"] * pr * w["UI"]
    if impact <= 0:
        return 0.0
    rnd = roundup if minor == "1" else _roundup_30
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return rnd(min(total, 10.0))


def _v2(parts: list[str], vector: str) -> float:
    m = _metrics(parts, _V2_WEIGHTS, vector)
    w = {k: _V2_WEIGHTS[k][m[k]] for k in _V2_WEIGHTS}
    impact = 10.41 * (1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"]))
    exploitability = 20 * w["AV"] * w["AC"] * w["Au"]
    f_impact = 0.0 if impact == 0 else 1.176
    raw = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f_impact
    return float(Decimal(repr(round(raw, 9))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def version_of(vector: str) -> str:
    """``3.1``, ``3.0``, ``4.0`` or ``2.0`` (a v2 vector has no prefix); ``""`` if unknown."""
    text = vector.strip().strip("()")
    if text.startswith("CVSS:"):
        return text[5:].split("/", 1)[0]
    return "2.0" if "Au:" in text else ""


def base_score(vector: str) -> float:
    """The base score of a CVSS v4.0, v3.0, v3.1 or v2 vector.

    Only the base metrics count: v3/v2 temporal and environmental metrics and v4.0 threat,
    environmental and supplemental metrics are validated (v4.0) or accepted, then ignored —
    a v4.0 vector gets its CVSS-B score (:func:`.cvss4.base_score`), not the CVSS-BT/BE/BTE
    score of the vector as written (:func:`.cvss4.score`).  Raises
    :class:`~patchwarden.errors.InputError` for a malformed vector or an unknown version.
    """
    text = vector.strip().strip("()")
    version = version_of(text)
    if version in ("3.0", "3.1"):
        return _v3(text.split("/")[1:], vector, version[-1])
    if version == "2.0":
        body = text.split("/", 1)[1] if text.startswith("CVSS:") else text
        return _v2(body.split("/"), vector)
    if version == "4.0":
        return cvss4.base_score(text)
    raise InputError(f"CVSS vector {vector!r}: version {version or '?'} is not scored here")


@lru_cache(maxsize=16_384)
def try_base_score(vector: str) -> float | None:
    """:func:`base_score` (base metrics only), or ``None`` for an empty or malformed vector."""
    if not vector:
        return None
    try:
        return base_score(vector)
    except InputError:
        return None


def severity_of(
    specific: Sequence[Advisory], others: Iterable[Advisory]
) -> tuple[Severity, str, float | None, str, str]:
    """The severity of one finding: ``(severity, severity_source, cvss score, vector, vendor)``.

    ``specific`` are the advisories that decided the finding, ``others`` every advisory of
    the vulnerability, each most specific source first.  The CVSS band of the base score of
    the first v3.x vector, else of the first v4.0 vector (our calculator), else of the first
    numeric score, else of the first v2 vector (``cvss``); else
    the first vendor rating that maps (``vendor``); else UNTRIAGED (``none``).
    """
    advisories = [*specific, *others]
    scored = _cvss(advisories)
    rating = next((a.vendor_severity for a in advisories if vendor_severity(a.vendor_severity)), "")
    rating = rating or next((a.vendor_severity for a in advisories if a.vendor_severity), "")
    if scored is not None:
        return Severity.from_cvss(scored[0]), "cvss", scored[0], scored[1], rating
    mapped = vendor_severity(rating)
    if mapped is not None:
        return mapped, "vendor", None, "", rating
    return Severity.UNTRIAGED, "none", None, "", rating


def _cvss(advisories: Sequence[Advisory]) -> tuple[float, str] | None:
    for adv in advisories:
        if adv.cvss_vector.startswith(("CVSS:3", "(CVSS:3")):
            score = try_base_score(adv.cvss_vector)
            if score is not None:
                return score, adv.cvss_vector
    for adv in advisories:
        if adv.cvss_vector and version_of(adv.cvss_vector) == "4.0":
            score = try_base_score(adv.cvss_vector)
            if score is not None:
                return score, adv.cvss_vector
    for adv in advisories:
        if adv.cvss_score is not None:
            return adv.cvss_score, adv.cvss_vector
    for adv in advisories:
        if adv.cvss_vector and version_of(adv.cvss_vector) == "2.0":
            score = try_base_score(adv.cvss_vector)
            if score is not None:
                return score, adv.cvss_vector
    return None
