"""``patchwarden aws …`` end to end against moto (in-process, the boto3 Session injected),
and its one-line errors (exit 2 for bad input, 3 when AWS cannot be reached)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from patchwarden.adapters.aws.connector import session as aws_session
from patchwarden.cli.api import ServerApi
from patchwarden.cli.main import main

REGION, ACCOUNT = "us-east-1", "123456789012"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERVER = ["--server", "http://127.0.0.1:9", "--token", "t"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("patchwarden: error: ")
    return lines[0]


@pytest.fixture
def fake_chain(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's session is moto's test session (credentials given, not from os.environ)."""
    monkeypatch.setattr(aws_session, "new_session", lambda options: aws)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """The fleet server's answers; the calls made are recorded."""
    calls: list[tuple[str, str, Any]] = []
    window = (EXAMPLES / "windows" / "sunday-web.yaml").read_text(encoding="utf-8")

    def call(self: ServerApi, method: str, path: str, **kw: Any) -> Any:
        calls.append((method, path, kw.get("json")))
        if method == "PUT":
            n = len(kw["json"]["resources"])
            return {
                "source": path.rsplit("/", 1)[1],
                "added": n,
                "updated": 0,
                "removed": 0,
                "resources": n,
            }
        if path == "/api/v1/windows":
            return [{"name": "sunday-web"}]
        if path == "/api/v1/windows/sunday-web":
            return {"name": "sunday-web", "document": yaml.safe_load(window)}
        raise AssertionError(f"unexpected call {method} {path}")

    monkeypatch.setattr(ServerApi, "call", call)
    return calls


def _function(aws: Any, url: str) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("h.py", "def h(e, c):\n    return 1\n")
    role = aws.client("iam", endpoint_url=url).create_role(
        RoleName="fn", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    aws.client("lambda", endpoint_url=url).create_function(
        FunctionName="legacy",
        Runtime="python3.9",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": buffer.getvalue()},
    )


def test_dry_run_prints_the_resources_as_json(
    aws: Any, moto_url: str, fake_chain: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _function(aws, moto_url)
    argv = ["aws", "import", "--services", "lambda", "--endpoint-url", moto_url, "--dry-run"]
    code, out, err = run([*argv, "-f", "json"], capsys)
    assert (code, err) == (0, "")
    value = json.loads(out)
    assert value["source"] == f"aws:{ACCOUNT}:{REGION}"
    (function,) = value["resources"]
    assert function["resource_type"] == "AWS::Lambda::Function"
    assert function["attributes"]["runtime"] == "python3.9"


def test_import_sends_the_snapshot_to_the_server(
    aws: Any,
    moto_url: str,
    fake_chain: None,
    server: list[tuple[str, str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _function(aws, moto_url)
    argv = ["aws", "import", "--services", "lambda,eks", "--endpoint-url", moto_url, *SERVER]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "")
    ((method, path, body),) = server
    assert (method, path) == ("PUT", f"/api/v1/resources/sources/aws:{ACCOUNT}:{REGION}")
    assert [r["name"] for r in body["resources"]] == ["legacy"]
    assert "AWS::Lambda::Function  1" in out
    assert f"source aws:{ACCOUNT}:{REGION}: 1 added, 0 updated, 0 removed, 1 resources" in out


def test_export_windows_prints_what_it_did(
    moto_url: str,
    fake_chain: None,
    server: list[tuple[str, str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["aws", "export", "windows", "--all", "--endpoint-url", moto_url, *SERVER]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header.split()[:4] == ["NAME", "ACTION", "SSM_ID", "WARNINGS"]
    assert row.split()[:2] == ["sunday-web", "created"] and " mw-" in row
    code, out, _ = run([*argv, "-f", "json"], capsys)
    (item,) = json.loads(out)
    assert (item["name"], item["action"]) == ("sunday-web", "unchanged")
    assert len(item["warnings"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["aws", "import", "--services", "ec2,foo", "--dry-run"], "unknown service(s) foo"),
        (["aws", "import", "--endpoint-url", "not-a-url", "--dry-run"], "--endpoint-url: not an"),
        (["aws", "export", "baselines", *SERVER], "name the objects to export, or give --all"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, fake_chain: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert message in one_line_error(err)


def test_an_unreachable_endpoint_is_one_line_exit_3(
    fake_chain: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["aws", "import", "--endpoint-url", "http://127.0.0.1:1", "--dry-run"]
    code, _, err = run(argv, capsys)
    assert code == 3
    assert "cannot reach AWS sts at http://127.0.0.1:1" in one_line_error(err)


def test_no_credentials_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PATCHWARDEN_HOME": str(tmp_path),
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    argv = [sys.executable, "-m", "patchwarden", "aws", "import", "--region", REGION, "--dry-run"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert one_line_error(done.stderr) == (
        "patchwarden: error: no AWS credentials found: set AWS_PROFILE or run aws configure"
    )


def test_without_boto3_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    code, _, err = run(["aws", "import", "--dry-run"], capsys)
    assert code == 3
    assert one_line_error(err) == (
        "patchwarden: error: the AWS connector needs boto3: pip install 'patchwarden[aws]'"
    )


def test_the_cli_does_not_import_boto3_to_start() -> None:
    code = "import sys, patchwarden.cli.main as m; m.build_parser(); print('boto3' in sys.modules)"
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
