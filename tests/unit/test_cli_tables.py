"""CLI tables escape what agents and API callers supply: a node name or fact holding an
escape sequence never reaches the operator's terminal raw; JSON output stays exact."""

from __future__ import annotations

import argparse
import json

import pytest

from patchwarden.cli.api import print_table, show
from patchwarden.cli.common import printable

HOSTILE = "web\x1b[31m-1\r\n\u202eevil\x07"


def test_printable_escapes_control_and_format_characters() -> None:
    assert printable(HOSTILE) == "web\\x1b[31m-1\\r\\n\\u202eevil\\x07"
    assert printable("plain näme 1.2") == "plain näme 1.2"
    assert printable(None) == "None"


def test_table_rows_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([{"node_id": "mi-1", "name": HOSTILE}], ["node_id", "name"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[31m" in out
    assert len(out.splitlines()) == 2  # an embedded newline does not add a row


def test_key_value_lines_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(format="table")
    show(args, {"node_id": "mi-1", "hostname": "h\x1b]0;pwned\x07"}, ["node_id", "hostname"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "hostname: h\\x1b]0;pwned\\x07" in out


def test_json_output_stays_exact(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(format="json")
    show(args, [{"name": HOSTILE}], ["name"])
    assert json.loads(capsys.readouterr().out) == [{"name": HOSTILE}]
