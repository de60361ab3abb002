"""Phased-update draws, checked against values printed by libstdc++ (g++ 12, the same
std::seed_seq / std::minstd_rand / std::uniform_int_distribution<unsigned>(0, 100) code apt
uses) for these seeds."""

from __future__ import annotations

from patchwarden.adapters.os.apt.phasing import Phasing, percentage, phase_draw

LIBSTDCXX = [12, 66, 28, 33, 70, 84, 96, 17, 96, 82]


def test_draws_match_libstdcxx() -> None:
    assert [phase_draw("foo", "1.0", f"abc{i}") for i in range(10)] == LIBSTDCXX


def test_non_ascii_seed_bytes_are_signed_chars() -> None:
    assert phase_draw("élan", "2.0", "x") == 45


def test_exclusion_rules() -> None:
    machine = Phasing("abc0")
    assert machine.excluded("foo", "1.0", 10)  # draw 12 > 10
    assert not machine.excluded("foo", "1.0", 12)
    assert not machine.excluded("foo", "1.0", 100)
    assert not Phasing("").excluded("foo", "1.0", 0)  # no machine id: apt includes it
    assert not Phasing("abc0", reproducible=True).excluded("foo", "1.0", 0)
    assert not Phasing("abc0", always_include=True, never_include=True).excluded("foo", "1.0", 0)
    assert Phasing("", never_include=True).excluded("foo", "1.0", 99)
    assert not Phasing("", never_include=True).excluded("foo", "1.0", 100)


def test_percentage_field() -> None:
    assert percentage({}) == 100
    assert percentage({"Phased-Update-Percentage": "30"}) == 30
    assert percentage({"Phased-Update-Percentage": "x"}) == 100
    assert percentage({"Phased-Update-Percentage": "250"}) == 100
