"""The command line explains itself: every option and argument has a help text, and the
resource verbs list the kinds they take."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from patchwarden.cli.fleet import DELETABLE, KINDS
from patchwarden.cli.main import build_parser, main


def _arguments(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("patchwarden",)
) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _arguments(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path), action


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{where} {action.option_strings or action.dest}"
        for where, action in _arguments(build_parser())
        if not action.help
    ]
    assert missing == []


@pytest.mark.parametrize(("verb", "kinds"), [("get", KINDS), ("delete", DELETABLE)])
def test_resource_verbs_list_their_kinds(
    verb: str, kinds: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for kind in kinds:
        assert kind in out, kind


def test_activations_can_be_deleted_as_the_help_says() -> None:
    assert "activations" in DELETABLE


def test_tokens_can_be_listed_and_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("list", "revoke"):
        with pytest.raises(SystemExit):
            main(["token", command, "--help"])
    assert "TOKEN_ID" in capsys.readouterr().out
