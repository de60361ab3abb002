"""``--baseline FILE`` of scan and install: hostile or malformed files are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.cli.common import load_baseline
from patchwarden.errors import InputError


def test_deeply_nested_json_is_one_input_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("{" + '"a":[' * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InputError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_aws_json_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text('{"Name": "prod-baseline", "OperatingSystem": "WINDOWS_XP"}')
    with pytest.raises(InputError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(f"{path}: OperatingSystem"), str(caught.value)
