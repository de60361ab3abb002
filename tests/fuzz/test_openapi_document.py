"""The OpenAPI document lists what the server answers (400, not 422), and 405 names every
method of the path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

# Starlette 1.x deprecates httpx in its TestClient; the tests keep httpx (as tests/server does)
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    monkeypatch.setenv("PATCHWARDEN_ASSESS_INTERVAL", "0")
    conf = ServerSettings(database_url=f"sqlite:///{tmp_path / 'server.db'}", replica_id="doc")
    app = create_app(conf)
    admin = bootstrap_admin(app.state.db, conf)
    return TestClient(app, headers={"Authorization": f"Bearer {admin}"})


def test_no_422_and_the_error_statuses(client: TestClient) -> None:
    document: dict[str, Any] = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): op
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert all("422" not in op["responses"] for op in operations.values())
    assert "HTTPValidationError" not in document["components"]["schemas"]
    put = operations[("PUT", "/api/v1/baselines/{name}")]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "429", "503"} <= set(put)
    assert put["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert set(operations[("GET", "/healthz")]["responses"]) == {"200", "400", "429", "503"}


def test_405_allows_every_method_of_the_path(client: TestClient) -> None:
    answer = client.patch("/api/v1/baselines/some-name")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, PUT"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert client.put("/api/v1/patch-groups").headers["allow"] == "DELETE, GET, POST"


def test_validation_error_is_400(client: TestClient) -> None:
    answer = client.get("/api/v1/audit", params={"before": 2**40})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
