"""apt's pin policy and candidate choice on plain values (rules of apt_preferences(5))."""

from __future__ import annotations

from patchwarden.adapters.os.apt_policy import (
    IndexFile,
    Pin,
    VersionChoice,
    candidate,
    file_priority,
    parse_preferences,
    release_matches,
)
from patchwarden.core.model import Origin

STABLE = IndexFile(
    Origin("bookworm", "bookworm", "Debian", "Debian", "main", "deb.debian.org"), "12"
)
SECURITY = IndexFile(
    Origin(
        "bookworm-security",
        "bookworm-security",
        "Debian-Security",
        "Debian",
        "main",
        "deb.debian.org",
    ),
    "12",
)
BACKPORTS = IndexFile(
    Origin(
        "bookworm-backports",
        "bookworm-backports",
        "Debian Backports",
        "Debian Backports",
        "main",
        "deb.debian.org",
    ),
    not_automatic=True,
    but_automatic_upgrades=True,
)
EXPERIMENTAL = IndexFile(Origin("experimental", "rc-buggy"), not_automatic=True)
LOCAL = IndexFile(Origin("./"), local=True)
FILES = [STABLE, SECURITY, BACKPORTS, EXPERIMENTAL, LOCAL]


def prios(pins: list[Pin] | None = None, default_release: str = "") -> list[int]:
    general = [p for p in (pins or []) if not p.packages]
    return [file_priority(f, general, default_release) for f in FILES]


def choose(
    versions: list[tuple[str, list[int], bool]],
    pins: list[Pin] | None = None,
    default_release: str = "",
) -> str | None:
    choices = [VersionChoice(v, list(files), inst) for v, files, inst in versions]
    specific = [p for p in (pins or []) if p.packages]
    best = candidate("pkg", choices, prios(pins, default_release), specific, FILES)
    return best.version if best else None


def test_default_priorities() -> None:
    assert prios() == [500, 500, 100, 1, 500]


def test_default_release_beats_everything_else() -> None:
    assert prios(default_release="bookworm-backports")[2] == 990
    assert prios(default_release="bookworm")[0] == 990


def test_newest_of_equal_priority_wins() -> None:
    assert choose([("2.0", [1], False), ("1.5", [0], False), ("1.0", [0], True)]) == "2.0"


def test_never_downgrades_below_1000() -> None:
    # the only other version is older than the installed one
    assert choose([("1.0", [], True), ("0.9", [0], False)]) == "1.0"


def test_not_automatic_never_upgrades_but_automatic_upgrades_does() -> None:
    assert choose([("3.0", [3], False), ("1.0", [0], True)]) == "1.0"
    # installed from backports (or only in the status file): priority 100 each, newer wins
    assert choose([("3.0", [2], False), ("1.0", [2], True)]) == "3.0"
    assert choose([("3.0", [2], False), ("1.0", [], True)]) == "3.0"
    # installed from stable (500): backports updates are not taken automatically
    assert choose([("3.0", [2], False), ("1.0", [0], True)]) == "1.0"


def test_specific_version_pin_holds_a_package() -> None:
    pins = parse_preferences("Package: pkg\nPin: version 1.0*\nPin-Priority: 1001\n")
    assert choose([("2.0", [0], False), ("1.0", [0], True)], pins) == "1.0"


def test_pin_above_1000_downgrades() -> None:
    pins = parse_preferences("Package: pkg\nPin: version 0.9\nPin-Priority: 1001\n")
    assert choose([("1.0", [0], True), ("0.9", [0], False)], pins) == "0.9"


def test_negative_general_pin_excludes_a_suite() -> None:
    pins = parse_preferences("Package: *\nPin: release a=bookworm-security\nPin-Priority: -1\n")
    assert choose([("2.0", [1], False), ("1.0", [0], True)], pins) == "1.0"


def test_origin_pin_matches_site_and_empty_origin_matches_local() -> None:
    pins = parse_preferences(
        'Package: *\nPin: origin ""\nPin-Priority: 50\n\n'
        "Package: *\nPin: origin deb.debian.org\nPin-Priority: 700\n"
    )
    assert prios(pins) == [700, 700, 700, 1, 50]  # experimental has no site here


def test_first_general_pin_wins_and_release_shortcuts() -> None:
    text = (
        "# comment\nPackage: *\nPin: release n=bookworm\nPin-Priority: 600\n\n"
        "Package: *\nPin: release o=Debian\nPin-Priority: 300\n"
    )
    assert prios(parse_preferences(text))[:2] == [600, 300]
    assert release_matches("12", STABLE)
    assert release_matches("bookworm", STABLE)
    assert release_matches("a=bookworm*,l=Debian-Security", SECURITY)
    assert not release_matches("l=Debian-Security", STABLE)
    assert release_matches("o=/^Deb/", STABLE)


def test_malformed_preferences_records_are_skipped() -> None:
    text = "Pin: release a=x\nPin-Priority: 5\n\nPackage: a\nPin: bogus x\nPin-Priority: 5\n\n"
    text += "Package: b\nPin: version 1\nPin-Priority: zero\n\nPackage: c\nPin: version 1\n"
    assert parse_preferences(text) == []


def test_phased_update_kept_back_has_priority_one() -> None:
    choices = [VersionChoice("2.0", [0], False, phased_out=True), VersionChoice("1.0", [0], True)]
    best = candidate("pkg", choices, prios(), [], FILES)
    assert best is not None and best.version == "1.0"
