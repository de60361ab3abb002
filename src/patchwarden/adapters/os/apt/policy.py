"""apt's version policy: pin priorities and the candidate version, as ``apt-cache policy``.

Implements the rules of apt_preferences(5) and apt's ``pkgPolicy``:

- every package file starts at 500, NotAutomatic files at 1, NotAutomatic with
  ButAutomaticUpgrades at 100, the dpkg status file (installed version only) at 100;
- ``APT::Default-Release`` pins matching files at 990 (it comes before the preferences);
- general pins (``Package: *``) set a file's priority, the first matching record winning;
- specific pins (named, globbed or ``/regex/`` packages; ``version``, ``release`` or ``origin``
  pins) give matching versions of those packages their priority, the first record winning;
- the candidate is the highest-priority version, the newer one on ties, never a version below
  the installed one unless its priority is 1000 or more (Patchwarden never downgrades: only
  newer versions are offered, see :mod:`.candidates`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from patchwarden.core.model import Origin
from patchwarden.errors import EnvironmentProblem


@dataclass(frozen=True)
class IndexFile:
    """One apt package index (a ``Packages`` file) with its Release facts."""

    origin: Origin
    version: str = ""
    """Release ``Version`` (``12``)."""
    not_automatic: bool = False
    but_automatic_upgrades: bool = False
    local: bool = False
    """A ``file:``/``copy:`` source (matches ``Pin: origin ""``)."""
    arch: str = ""


@dataclass(frozen=True)
class Pin:
    """One record of a preferences file."""

    packages: tuple[str, ...]
    """Package patterns; empty for the general form (``Package: *``)."""
    kind: str
    """``release``, ``origin`` or ``version``."""
    data: str
    priority: int


def _field_match(pattern: str, value: str) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            return re.search(pattern[1:-1], value) is not None
        except re.error as exc:  # apt too refuses it: "Regex compilation error"
            raise EnvironmentProblem(
                f"apt preferences: invalid regular expression {pattern!r}: {exc}"
            ) from None
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(value, pattern)
    return pattern == value


def parse_preferences(text: str) -> list[Pin]:
    """Pins from apt_preferences text; malformed records are skipped as apt skips them."""
    pins: list[Pin] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields: dict[str, str] = {}
        key = ""
        for line in block.split("\n"):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "package" not in fields or "pin" not in fields:
            continue
        kind, _, data = fields["pin"].partition(" ")
        kind = kind.lower()
        try:
            priority = int(fields.get("pin-priority", "0"))
        except ValueError:
            continue
        if priority == 0 or kind not in {"release", "origin", "version"}:
            continue
        names = tuple(fields["package"].split())
        if names == ("*",):
            if kind == "version":
                continue
            names = ()
        pins.append(Pin(names, kind, data.strip().strip('"'), priority))
    return pins


def release_matches(data: str, index: IndexFile) -> bool:
    """``Pin: release …`` against a file's Release facts (a=, n=, v=, o=, l=, c=, b=)."""
    o = index.origin
    for frag in (f.strip() for f in data.split(",")):
        if not frag:
            continue
        if "=" not in frag:
            # apt guesses: a leading digit means a version, otherwise an archive or codename
            if frag[0].isdigit():
                if not _field_match(frag, index.version):
                    return False
            elif not (_field_match(frag, o.archive) or _field_match(frag, o.codename)):
                return False
            continue
        key, _, value = frag.partition("=")
        actual = {
            "a": o.archive,
            "n": o.codename,
            "v": index.version,
            "o": o.origin,
            "l": o.label,
            "c": o.component,
            "b": index.arch,
        }.get(key.strip())
        if actual is None or not _field_match(value.strip(), actual):
            return False
    return True


def pin_matches_file(pin: Pin, index: IndexFile) -> bool:
    """Whether a release/origin pin selects this package file."""
    if pin.kind == "release":
        return release_matches(pin.data, index)
    if pin.kind == "origin":
        if pin.data == "":
            return index.local
        return _field_match(pin.data, index.origin.site)
    return False


def file_priority(index: IndexFile, general: list[Pin], default_release: str) -> int:
    """The priority of a whole package file (general pins, Default-Release, NotAutomatic)."""
    if default_release and release_matches(default_release, index):
        return 990
    for pin in general:
        if pin_matches_file(pin, index):
            return pin.priority
    if index.not_automatic:
        return 100 if index.but_automatic_upgrades else 1
    return 500


def package_matches(patterns: tuple[str, ...], name: str) -> bool:
    """Whether a specific pin's ``Package:`` patterns cover ``name``."""
    for pattern in patterns:
        bare = pattern.split(":", 1)[0] if not pattern.startswith("/") else pattern
        if _field_match(bare, name):
            return True
    return False


@dataclass
class VersionChoice:
    """One available version of a package, with the files that carry it."""

    version: str
    files: list[int] = field(default_factory=list)
    """Indices into the policy's file list."""
    installed: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    phased_out: bool = False
    """A phased update the legacy ``APT::Get::Phase-Policy`` excludes on this machine."""


def specific_priority(
    name: str, choice: VersionChoice, pins: list[Pin], files: list[IndexFile]
) -> int | None:
    """Priority from the first specific pin that matches this version, if any."""
    for pin in pins:
        if not pin.packages or not package_matches(pin.packages, name):
            continue
        if pin.kind == "version":
            if fnmatch.fnmatchcase(choice.version, pin.data) or choice.version == pin.data:
                return pin.priority
        elif any(pin_matches_file(pin, files[i]) for i in choice.files):
            return pin.priority
    return None


def priority(
    name: str,
    choice: VersionChoice,
    file_prios: list[int],
    pins: list[Pin],
    files: list[IndexFile],
) -> int:
    """The pin priority of one version, as ``apt-cache policy`` shows it: the first
    matching specific pin, else the highest priority of the files carrying it (100 for the
    installed version, from the dpkg status file); capped at 1 for a phased update the
    legacy ``APT::Get::Phase-Policy`` excludes (``choice.phased_out``)."""
    prio = specific_priority(name, choice, pins, files) if pins else None
    if prio is None:
        prios = [file_prios[i] for i in choice.files]
        if choice.installed:
            prios.append(100)
        prio = max(prios) if prios else 0
    if choice.phased_out and not choice.installed:
        prio = min(prio, 1)
    return prio
