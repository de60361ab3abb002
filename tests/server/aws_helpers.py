"""Helpers shared by the tests of the AWS-compatible endpoint ``/aws/ssm``: a boto3
``ssm`` client bound to the app's test client whose answers are checked against botocore's
own ``ssm`` model, access keys, a live uvicorn server and the AWS CLI.

Import it only after ``pytest.importorskip("boto3")``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape
from fleet_helpers import Api

MODEL = botocore.session.get_session().get_service_model("ssm")
REGION = "eu-west-3"


def isolate_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No profile, config file, credentials file or instance metadata of the machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def conforms(value: Any, shape: Shape, where: str) -> None:
    """``value`` (raw JSON) has the model's shape: known members only, the required ones
    present, each of its type."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        unknown = set(value) - set(shape.members)  # type: ignore[attr-defined]
        assert not unknown, f"{where}: members not in the model: {unknown}"
        missing = set(shape.required_members) - set(value)  # type: ignore[attr-defined]
        assert not missing, f"{where}: required members missing: {missing}"
        for name, item in value.items():
            conforms(item, shape.members[name], f"{where}.{name}")  # type: ignore[attr-defined]
    elif kind == "list":
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for index, item in enumerate(value):
            conforms(item, shape.member, f"{where}[{index}]")  # type: ignore[attr-defined]
    elif kind == "string":
        assert isinstance(value, str), f"{where}: {value!r} is not a string"
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10**9)
        assert low <= len(value) <= high, f"{where}: {value!r} length out of {low}..{high}"
        enum = shape.enum  # type: ignore[attr-defined]
        assert not enum or value in enum, f"{where}: {value!r} is not one of {enum}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: {value!r} is not a boolean"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "timestamp":
        assert isinstance(value, int | float) and not isinstance(value, bool), where
    elif kind == "map":
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        for name, item in value.items():
            conforms(item, shape.value, f"{where}.{name}")  # type: ignore[attr-defined]
    else:
        raise AssertionError(f"{where}: no check for {kind}")


class _Raw:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self.content


def ssm_client(api: Api, key: str, secret: str, *, validate: bool = True) -> Any:
    """A boto3 ``ssm`` client whose requests go to the app's test client (the request
    botocore signed, unchanged); each 200 answer is checked against the model.  With
    ``validate=False`` botocore sends what it is given (to test the server's checks)."""
    client = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client(
        "ssm",
        endpoint_url="http://testserver/aws/ssm",
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        r = api.client.request(request.method, request.url, headers=headers, content=request.body)
        assert r.headers["content-type"] == "application/x-amz-json-1.1"
        assert r.headers["x-amzn-requestid"]
        target = headers["X-Amz-Target"].removeprefix("AmazonSSM.")
        if r.status_code == 200:
            conforms(r.json(), MODEL.operation_model(target).output_shape, target)
        else:
            assert set(r.json()) == {"__type", "message"}, r.text
            assert "Traceback" not in r.text
        return AWSResponse(request.url, r.status_code, r.headers, _Raw(r.content))

    client.meta.events.register("before-send.ssm", send)
    return client


def keys(api: Api, name: str, role: str) -> tuple[str, str]:
    """A new token of ``role`` with AWS access keys: (access key id, secret)."""
    made = api.ok("POST", "/api/v1/tokens", json={"name": name, "role": role, "aws_keys": True})
    assert made["aws_access_key_id"].startswith("PWAK") and len(made["aws_access_key_id"]) == 20
    assert len(made["aws_secret_access_key"]) == 40
    return made["aws_access_key_id"], made["aws_secret_access_key"]


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error type of a ClientError."""
    return str(error.value.response["Error"]["Code"])


@contextmanager
def live_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A uvicorn server on 127.0.0.1 (SQLite, the wall clock): its base URL and its
    admin token."""
    import httpx
    import uvicorn

    from patchwarden.adapters.storage import make_engine, upgrade
    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = ServerSettings(database_url=url, migrate=False, data_dir=tmp_path / "data")
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings)
    assert admin is not None
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    try:
        yield base, admin
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def run_aws(base: str, key: str, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``aws ssm ARGS --output json`` against the server at ``base``, isolated from any AWS
    configuration of the machine (skips the test when the AWS CLI is not installed)."""
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [
            *(str(aws), "ssm", *args),
            *("--endpoint-url", f"{base}/aws/ssm", "--region", REGION, "--output", "json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def aws_cli(base: str, key: str, secret: str, *args: str) -> Any:
    """:func:`run_aws` that must succeed: its JSON answer (``{}`` for none)."""
    out = run_aws(base, key, secret, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}
