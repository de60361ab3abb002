"""End-of-life dates of the supported operating system releases, kept as data.

The date is the end of standard (free) security support: Debian LTS, Ubuntu standard
support (not ESM), RHEL-family full + maintenance support, Amazon Linux's announced EOL.
Update this table when vendors announce changes; ``os-supported`` reads only this.
"""

from __future__ import annotations

from datetime import date

EOL: dict[tuple[str, str], date] = {
    ("debian", "10"): date(2024, 6, 30),
    ("debian", "11"): date(2026, 8, 31),
    ("debian", "12"): date(2028, 6, 30),
    ("debian", "13"): date(2030, 6, 30),
    ("ubuntu", "18.04"): date(2023, 5, 31),
    ("ubuntu", "20.04"): date(2025, 5, 31),
    ("ubuntu", "22.04"): date(2027, 6, 1),
    ("ubuntu", "24.04"): date(2029, 6, 1),
    ("rhel", "8"): date(2029, 5, 31),
    ("rhel", "9"): date(2032, 5, 31),
    ("rocky", "8"): date(2029, 5, 31),
    ("rocky", "9"): date(2032, 5, 31),
    ("almalinux", "8"): date(2029, 3, 1),
    ("almalinux", "9"): date(2032, 5, 31),
    ("amzn", "2"): date(2026, 6, 30),
    ("amzn", "2023"): date(2029, 6, 30),
}
"""(os-release ID, major or LTS version) → last day of support."""


def release_key(os_id: str, version_id: str) -> tuple[str, str]:
    """The :data:`EOL` key of an os-release pair: ``("rocky", "9.4")`` → ``("rocky", "9")``;
    Ubuntu keeps ``YY.MM``; Debian and Amazon Linux keep the major version."""
    os_id = os_id.lower()
    if os_id == "ubuntu":
        return os_id, version_id
    return os_id, version_id.split(".", 1)[0]


def end_of_life(os_id: str, version_id: str) -> date | None:
    """The release's end-of-support date, ``None`` when the table does not know it."""
    return EOL.get(release_key(os_id, version_id))
