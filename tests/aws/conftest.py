"""The AWS connector's tests: one moto server per process (127.0.0.1, a free port), reset
before every test; credentials are given to the boto3 Session explicitly (no os.environ).

moto 5.x does not implement ssm DescribeInstanceInformation, DescribeInstancePatchStates,
GetPatchBaseline, UpdatePatchBaseline, UpdateMaintenanceWindow, nor rds
DescribeDBEngineVersions, DescribePendingMaintenanceActions: those are answered by
botocore Stubbers (params and responses validated against botocore's service model) on
clients of the same session, injected per service.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.stub import Stubber  # noqa: E402

from patchwarden.adapters.aws.connector.session import AwsOptions, Clients, open_clients  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def new_session() -> Any:
    """A boto3 Session with moto's fake credentials, given explicitly."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def aws(moto_url: str) -> Any:
    """A fresh moto (reset) and a session for it."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    return new_session()


@pytest.fixture
def connect(aws: Any, moto_url: str) -> Any:
    """``connect(ssm=stubbed_client, …)``: Clients on moto, with per-service overrides."""

    def make(**overrides: Any) -> Clients:
        return open_clients(AwsOptions(endpoint_url=moto_url), session=aws, overrides=overrides)

    return make


@pytest.fixture
def stub(aws: Any) -> Iterator[Any]:
    """``stub("ssm")`` → (client, Stubber): a client of the same session whose calls the
    Stubber answers (checked at the end: every queued answer was used)."""
    made: list[Stubber] = []

    def make(service: str) -> tuple[Any, Stubber]:
        client = aws.client(service, region_name=REGION, endpoint_url="http://127.0.0.1:9")
        stubber = Stubber(client)
        stubber.activate()
        made.append(stubber)
        return client, stubber

    yield make
    for stubber in made:
        stubber.assert_no_pending_responses()
        stubber.deactivate()
