"""The public face of version ordering: ``compare(scheme, a, b)`` for every packaging scheme.

Schemes are ``deb`` (Debian, Ubuntu: identical to ``dpkg --compare-versions``), ``rpm``
(RHEL, Fedora, Amazon Linux, SUSE: identical to rpm 4.18's EVR comparison) and ``apk``
(Alpine: identical to apk-tools 3.0's ``apk_version_compare``); see
:mod:`patchwarden.core.versions.deb`, :mod:`patchwarden.core.versions.rpm` and
:mod:`patchwarden.core.versions.apk` for the exact rules and the inputs they reject.

>>> compare("deb", "1.0~rc1", "1.0") < 0
True
>>> compare("deb", "2:1.0", "1:9.9") > 0
True
>>> compare("rpm", "1.0^git1", "1.0") > 0
True
>>> sorted(["1.0", "1.0~rc1", "1.0+dfsg-1+deb12u1"], key=lambda v: sort_key("deb", v))
['1.0~rc1', '1.0', '1.0+dfsg-1+deb12u1']
>>> compare("apk", "1.2.3_rc1-r0", "1.2.3-r0") < 0
True
>>> sorted(["2.0", "2.0_p1", "2.0_alpha", "2.0-r1"], key=lambda v: sort_key("apk", v))
['2.0_alpha', '2.0', '2.0-r1', '2.0_p1']
>>> compare("nosuch", "1.0", "1.0")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
patchwarden.errors.InputError: unknown version scheme 'nosuch' (expected one of: apk, ...)

Parsed versions are cached (LRU, 65,536 per scheme), so repeated comparisons of the same
strings cost a dictionary lookup and a tuple comparison.
"""

from __future__ import annotations

from patchwarden.core.versions import COMPARATORS, SORT_KEYS, Comparator, SortKey
from patchwarden.errors import InputError

__all__ = ["SCHEMES", "comparator", "compare", "sort_key"]

#: The known scheme names, sorted.
SCHEMES: tuple[str, ...] = tuple(sorted(COMPARATORS))


def _unknown(scheme: str) -> InputError:
    return InputError(f"unknown version scheme {scheme!r} (expected one of: {', '.join(SCHEMES)})")


def comparator(scheme: str) -> Comparator:
    """Return the ``compare(a, b)`` function of ``scheme``; hoist it out of hot loops.

    Raises :class:`~patchwarden.errors.InputError` for an unknown scheme.
    """
    try:
        return COMPARATORS[scheme]
    except KeyError:
        raise _unknown(scheme) from None


def compare(scheme: str, a: str, b: str) -> int:
    """Compare versions ``a`` and ``b`` of ``scheme``: -1, 0 or 1 as ``a`` is lower, equal, higher.

    Raises :class:`~patchwarden.errors.InputError` for an unknown scheme or a malformed version.
    """
    return comparator(scheme)(a, b)


def sort_key(scheme: str, version: str) -> tuple[object, ...]:
    """Return a key for ``sorted()``/``max()`` that orders versions of ``scheme`` like ``compare``.

    Keys of different schemes must not be mixed. Raises
    :class:`~patchwarden.errors.InputError` for an unknown scheme or a malformed version.
    """
    key: SortKey
    try:
        key = SORT_KEYS[scheme]
    except KeyError:
        raise _unknown(scheme) from None
    return key(version)
