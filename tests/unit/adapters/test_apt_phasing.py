"""Phased-update draws, checked against values printed by libstdc++ (g++ 12, the same
std::seed_seq / std::minstd_rand / std::uniform_int_distribution<unsigned>(0, 100) code apt
uses) for these seeds."""

from __future__ import annotations

from pathlib import Path

from patchwarden.adapters.os.apt.phasing import Phasing, percentage, phase_draw
from patchwarden.adapters.os.apt.root import in_chroot, phasing
from patchwarden.adapters.runner import FakeRunner
from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import RunResult

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


def test_apt_in_a_chroot_includes_every_phased_update(tmp_path: Path) -> None:
    """apt asks ``ischroot -t`` (Dir::Bin::ischroot); in a chroot, or when it cannot tell,
    phasing is off — so is it here."""

    def answering(code: int) -> FakeRunner:
        return FakeRunner(lambda argv: RunResult(argv, code, "", ""))

    assert in_chroot(answering(0), {}) is True
    assert in_chroot(answering(1), {}) is False
    runner = answering(0)
    in_chroot(runner, {"Dir::Bin::ischroot": "/opt/ischroot"})
    assert runner.calls == [("/opt/ischroot", "-t")]

    def missing(argv: tuple[str, ...]) -> RunResult:
        raise EnvironmentProblem(f"{argv[0]}: command not found")

    assert in_chroot(FakeRunner(missing), {}) is False
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("abc0\n")
    assert phasing(tmp_path, {}, {}).excluded("foo", "1.0", 10)  # draw 12 > 10
    assert not phasing(tmp_path, {}, {}, chroot=True).excluded("foo", "1.0", 10)
    assert phasing(tmp_path, {"APT::Machine-ID": "abc1"}, {}).machine_id == "abc1"
