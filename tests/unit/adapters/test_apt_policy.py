"""apt's pin policy and candidate choice on plain values (rules of apt_preferences(5)).

apt's candidate is what the product's own preference (:func:`patchwarden.core.baseline.
preferred`) picks among the updates :class:`AptPolicy` offers, or the installed version
when it offers none: the helper below checks that pair against apt's rules.
"""

from __future__ import annotations

from patchwarden.adapters.os.apt.candidates import AptPolicy
from patchwarden.adapters.os.apt.phasing import Phasing
from patchwarden.adapters.os.apt.policy import (
    IndexFile,
    Pin,
    VersionChoice,
    file_priority,
    parse_preferences,
    release_matches,
)
from patchwarden.core.baseline import preferred
from patchwarden.core.model import Origin, Package

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


def offered(
    versions: list[tuple[str, list[int], bool]],
    pins: list[Pin] | None = None,
    default_release: str = "",
    phasing: Phasing = Phasing(""),
    fields: dict[str, dict[str, str]] | None = None,
) -> list[Package]:
    """The updates the adapter offers for one installed package."""
    (installed,) = [v for v, _, inst in versions if inst]
    choices = {
        v: VersionChoice(v, list(files), fields=dict((fields or {}).get(v, {})))
        for v, files, _ in versions
    }
    specific = [p for p in (pins or []) if p.packages]
    policy = AptPolicy(FILES, prios(pins, default_release), specific, phasing)
    return policy.updates("pkg", "amd64", installed, choices)


def choose(
    versions: list[tuple[str, list[int], bool]],
    pins: list[Pin] | None = None,
    default_release: str = "",
    phasing: Phasing = Phasing(""),
    fields: dict[str, dict[str, str]] | None = None,
) -> str | None:
    """apt's candidate: the preferred offered update, else the installed version."""
    best = preferred(offered(versions, pins, default_release, phasing, fields), "deb")
    if best is not None:
        return best.version
    return next(v for v, _, inst in versions if inst)


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


def test_a_pin_above_1000_does_not_make_patchwarden_downgrade() -> None:
    # apt would downgrade to 0.9; a patch baseline only ever installs newer versions
    pins = parse_preferences("Package: pkg\nPin: version 0.9\nPin-Priority: 1001\n")
    assert offered([("1.0", [0], True), ("0.9", [0], False)], pins) == []


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


def test_legacy_phase_policy_gives_an_excluded_phased_update_priority_one() -> None:
    legacy = Phasing("m", legacy_policy=True, never_include=True)
    phased = {"2.0": {"Phased-Update-Percentage": "10"}}
    assert choose([("2.0", [0], False), ("1.0", [0], True)], phasing=legacy, fields=phased) == "1.0"
    assert offered([("2.0", [0], False), ("1.0", [0], True)], phasing=legacy, fields=phased) == []


def test_every_version_apt_could_choose_is_offered_with_its_priority() -> None:
    # Debian: the point release (stable) is newer than the security pocket's version
    found = offered(
        [("1.3", [0], False), ("1.2", [1], False), ("1.1", [0], False), ("1.0", [], True)]
    )
    assert [(u.version, u.pin_priority) for u in found] == [
        ("1.1", 500),
        ("1.2", 500),
        ("1.3", 500),
    ]
    assert [u.update_notice for u in found] == [False, True, False]
    assert choose([("1.3", [0], False), ("1.2", [1], False), ("1.0", [], True)]) == "1.3"


def test_versions_apt_would_never_prefer_to_the_installed_one_are_not_offered() -> None:
    # installed from stable (500): backports (100) and experimental (1) never win
    assert offered([("3.0", [2], False), ("2.0", [3], False), ("1.0", [0], True)]) == []
    # a version pinned below zero is never installed
    pins = parse_preferences("Package: pkg\nPin: version 2.0\nPin-Priority: -1\n")
    assert [u.version for u in offered([("2.0", [1], False), ("1.0", [], True)], pins)] == []


def test_kept_back_follows_apt_upgrade_phasing() -> None:
    never = Phasing("m", never_include=True)
    always = Phasing("m", always_include=True)
    phased = {"1.2": {"Phased-Update-Percentage": "0"}}
    plain = [("1.2", [0], False), ("1.0", [], True)]
    assert [u.kept_back for u in offered(plain, phasing=never, fields=phased)] == [True]
    assert [u.phasing for u in offered(plain, phasing=never, fields=phased)] == [0]
    assert [u.kept_back for u in offered(plain, phasing=always, fields=phased)] == [False]
    # a -security version between the installed and the phased one: never held back
    with_security = [("1.2", [0], False), ("1.1", [1], False), ("1.0", [], True)]
    found = offered(with_security, phasing=never, fields=phased)
    assert [(u.version, u.kept_back) for u in found] == [("1.1", False), ("1.2", False)]
    # nor when the phased version itself is in a -security archive
    assert [
        u.kept_back
        for u in offered([("1.2", [1], False), ("1.0", [], True)], phasing=never, fields=phased)
    ] == [False]
    # a security version older than the installed one does not count
    older = [("1.2", [0], False), ("1.0", [], True), ("0.9", [1], False)]
    assert [u.kept_back for u in offered(older, phasing=never, fields=phased)] == [True]
