"""Phased-update draws, checked against values printed by libstdc++ (g++ 12, the same
std::seed_seq / std::minstd_rand / std::uniform_int_distribution<unsigned>(0, 100) code apt
uses) for these seeds."""

from __future__ import annotations

from patchwarden.adapters.os.apt_phasing import kept_back, phase_draw

LIBSTDCXX = [12, 66, 28, 33, 70, 84, 96, 17, 96, 82]


def test_draws_match_libstdcxx() -> None:
    assert [phase_draw("foo", "1.0", f"abc{i}") for i in range(10)] == LIBSTDCXX


def test_non_ascii_seed_bytes_are_signed_chars() -> None:
    assert phase_draw("élan", "2.0", "x") == 45


def test_kept_back_rules() -> None:
    assert kept_back("foo", "1.0", "abc0", 10)  # draw 12 > 10
    assert not kept_back("foo", "1.0", "abc0", 12)
    assert not kept_back("foo", "1.0", "abc0", 100)
    assert not kept_back("foo", "1.0", "", 0)  # no machine id: apt includes the update
