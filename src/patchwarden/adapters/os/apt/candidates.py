"""Every version of an installed package that apt could upgrade it to, with apt's facts.

A scan must see more than apt's candidate: AWS judges every available version against the
baseline and reports the highest approved one, so a security-pocket version older than a
point release's (Debian) or ``-updates``' (Ubuntu) candidate must still be found.  For one
installed (name, arch) this module lists each newer version whose pin priority is at least
the installed version's (ties go to the newer version, as in apt): exactly the versions apt
would pick if the ones the baseline does not approve were not there.  Each carries

- ``pin_priority``: its priority (``apt-cache policy``), so the core can prefer as apt does;
- ``phasing`` and ``kept_back``: apt's upgrader (2.5+) holds a phased version back on a
  machine outside its phase, unless a version from a ``-security`` archive lies in
  (installed, version] — a security fix is never held back.
"""

from __future__ import annotations

from dataclasses import replace

from patchwarden.adapters.os.apt.facts import package_facts, source_of, version_key
from patchwarden.adapters.os.apt.phasing import Phasing, percentage
from patchwarden.adapters.os.apt.policy import IndexFile, Pin, VersionChoice, priority
from patchwarden.core.model import Package
from patchwarden.core.versions import COMPARATORS

_deb_compare = COMPARATORS["deb"]


class AptPolicy:
    """apt's pin policy of one root: file priorities, specific pins, phasing."""

    def __init__(
        self, files: list[IndexFile], file_prios: list[int], pins: list[Pin], phasing: Phasing
    ) -> None:
        self.files = files
        self.file_prios = file_prios
        self.pins = pins
        self.phasing = phasing

    def updates(
        self, name: str, arch: str, installed: str, by_version: dict[str, VersionChoice]
    ) -> list[Package]:
        """The versions newer than ``installed`` that apt could choose (module docstring),
        oldest first."""
        choices = dict(by_version)
        if installed not in choices:
            choices[installed] = VersionChoice(installed)
        phasing = self.phasing
        for choice in choices.values():
            choice.installed = choice.version == installed
            pct = percentage(choice.fields)
            if phasing.legacy_policy and pct < 100 and not choice.installed:
                choice.phased_out = phasing.excluded(*self._source(name, choice), pct)
        prios = {
            v: priority(name, c, self.file_prios, self.pins, self.files) for v, c in choices.items()
        }
        floor = max(prios[installed], 1)
        newer = sorted(
            (c for c in choices.values() if _deb_compare(c.version, installed) > 0),
            key=version_key,
        )
        found: list[Package] = []
        security_since_installed = False
        for choice in newer:
            security_since_installed = security_since_installed or any(
                self.files[i].origin.archive.endswith("-security") for i in choice.files
            )
            prio = prios[choice.version]
            if prio < floor:
                continue
            pct = percentage(choice.fields)
            kept_back = (
                not phasing.legacy_policy
                and pct < 100
                and not security_since_installed
                and phasing.excluded(*self._source(name, choice), pct)
            )
            facts = package_facts(choice.fields, choice, self.files, name, arch)
            found.append(replace(facts, pin_priority=prio, phasing=pct, kept_back=kept_back))
        return found

    @staticmethod
    def _source(name: str, choice: VersionChoice) -> tuple[str, str]:
        return source_of(choice.fields, name, choice.version)
