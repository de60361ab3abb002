"""``patchwarden scan``'s table fits the terminal: the width is the terminal's (``COLUMNS``
overrides, 80 when stdout is not a terminal), package names and versions are never broken
mid-token, and the output ends with the verdict — whose severity agrees with the rows — and
the next command.  Goldens: tests/golden/table-{80,120}.txt (regenerate with
``PW_UPDATE_GOLDEN=1``)."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.core.compliance import summarize
from patchwarden.core.model import ComplianceLevel, Operation, OsInfo, PatchItem, PatchState
from patchwarden.core.report import NodeFacts, Report
from patchwarden.render import table

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

ITEMS = (
    PatchItem(
        "libgdk-pixbuf2.0-common",
        "all",
        "2.42.10+dfsg-1+deb12u2",
        "2.42.10+dfsg-1+deb12u4",
        PatchState.MISSING,
        classification="Security",
        repository="bookworm-security",
    ),
    PatchItem(
        "openjdk-17-jre-headless",
        "amd64",
        "17.0.15+6-1~deb12u1",
        "17.0.21.1+2-1~deb12u1",
        PatchState.MISSING,
        classification="Security",
        repository="bookworm-security,bookworm",
    ),
    PatchItem(
        "libevent-core-2.1-7",
        "amd64",
        "2.1.12-stable-8",
        "2.1.12-stable-8+deb12u1",
        PatchState.INSTALLED_PENDING_REBOOT,
        classification="Security",
        repository="bookworm-security",
    ),
    PatchItem("zlib1g", "amd64", "1:1.2.13.dfsg-1", None, PatchState.INSTALLED),
)
TOKENS = {t for i in ITEMS[:3] for t in (i.name, i.installed_version, i.available_version)}


def report(items: tuple[PatchItem, ...] = ITEMS) -> Report:
    return Report(
        node=NodeFacts("web-1", "/", DEBIAN),
        baseline="AWS-DebianDefaultPatchBaseline",
        operation=Operation.SCAN,
        generated_at=NOW,
        items=items,
        summary=summarize(items),
    )


@pytest.mark.parametrize("width", [80, 120])
def test_table_matches_golden_and_never_breaks_names_or_versions(width: int) -> None:
    text = table.render(report(), width=width)
    for line in text.splitlines():
        if not line.startswith(("note:", "web-1 ")):  # soft-wrapped prose lines
            assert len(line) <= width, line
    words = set(re.split(r"[\s│┃]+", text))
    assert words >= TOKENS, TOKENS - words
    lines = text.rstrip("\n").splitlines()
    assert lines[-2].startswith("web-1 (Debian12) against AWS-DebianDefaultPatchBaseline: ")
    assert lines[-1] == "next: patchwarden install --dry-run"
    golden = GOLDEN / f"table-{width}.txt"
    if os.environ.get("PW_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_very_narrow_terminal_prints_one_line_per_row() -> None:
    text = table.render(report(), width=40)
    assert "libgdk-pixbuf2.0-common:all 2.42.10+dfsg-1+deb12u2 → 2.42.10+dfsg-1+deb12u4" in text


def test_verdict_severity_agrees_with_the_rows() -> None:
    text = table.render(report(), width=120)
    verdict = text.rstrip("\n").splitlines()[-2]
    assert "NON_COMPLIANT [INFORMATIONAL; patch severity UNSPECIFIED]" in verdict
    high = tuple(
        PatchItem(
            i.name,
            i.arch,
            i.installed_version,
            i.available_version,
            i.state,
            severity=ComplianceLevel.HIGH,
        )
        for i in ITEMS
    )
    verdict = table.render(report(high), width=120).rstrip("\n").splitlines()[-2]
    assert "NON_COMPLIANT [HIGH]:" in verdict


def test_next_command_follows_the_states() -> None:
    compliant = (ITEMS[3],)
    assert table.next_line(report(compliant)) == "next: nothing to do"
    pending = (ITEMS[2], ITEMS[3])
    assert "reboot" in table.next_line(report(pending))
    assert (
        table.next_line(report(), ("--root", "/srv/n1", "--baseline", "b.yaml"))
        == "next: patchwarden install --dry-run --root /srv/n1 --baseline b.yaml"
    )


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert table.terminal_width() == table.DEFAULT_WIDTH == 80  # not a terminal
    monkeypatch.setattr("sys.stdout", _Tty())
    monkeypatch.setattr(
        table.shutil, "get_terminal_size", lambda fallback: os.terminal_size((93, 40))
    )
    assert table.terminal_width() == 93
    monkeypatch.setenv("COLUMNS", "71")
    assert table.terminal_width() == 71
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert table.terminal_width() == 71  # the override also applies to a pipe
