"""Version ordering per packaging scheme: one pure module each, no I/O.

The registries below are the only place a scheme is wired in; :mod:`patchwarden.versions`
is the public face that dispatches through them. Every scheme provides ``compare(a, b)``
(negative, zero, positive, exactly as the distribution's own tool orders) and
``sort_key(v)`` (a tuple with the same order), and raises
:class:`~patchwarden.errors.InputError` for a malformed version.
"""

from __future__ import annotations

from collections.abc import Callable

from patchwarden.core.versions import apk, deb, rpm

Comparator = Callable[[str, str], int]
SortKey = Callable[[str], tuple[object, ...]]

#: scheme name -> three-way comparison, identical to ``dpkg --compare-versions`` / rpm / apk.
COMPARATORS: dict[str, Comparator] = {
    "apk": apk.compare,
    "deb": deb.compare,
    "rpm": rpm.compare,
}

#: scheme name -> key function with the same order as the comparator.
SORT_KEYS: dict[str, SortKey] = {"apk": apk.sort_key, "deb": deb.sort_key, "rpm": rpm.sort_key}

__all__ = ["COMPARATORS", "SORT_KEYS", "Comparator", "SortKey", "apk", "deb", "rpm"]
