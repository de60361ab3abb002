"""The shared API client: bodiless answers, the base-URL hint, refusals are input errors."""

from __future__ import annotations

import httpx
import pytest

from patchwarden.adapters.api_client import ApiClient, Refused
from patchwarden.errors import InputError


def _client(handler: httpx.MockTransport, server: str = "http://pw.test") -> ApiClient:
    return ApiClient(server, transport=handler)


def test_a_204_answer_is_none() -> None:
    api = _client(httpx.MockTransport(lambda _: httpx.Response(204)))
    assert api.call("DELETE", "/api/v1/windows/w") is None


def test_server_url_with_the_api_path_is_refused() -> None:
    with pytest.raises(InputError, match="without /api/v1"):
        ApiClient("http://pw.test/api/v1/")


def test_a_route_miss_under_a_prefix_names_the_base_url() -> None:
    answer = {"error": {"code": "not_found", "message": "Not Found"}}
    api = _client(
        httpx.MockTransport(lambda _: httpx.Response(404, json=answer)), "http://pw.test/fleet"
    )
    with pytest.raises(Refused, match="without /api/v1") as caught:
        api.call("GET", "/api/v1/nodes")
    assert caught.value.exit_code == 2


def test_refusals_are_input_errors() -> None:
    answer = {"error": {"code": "invalid_activation", "message": "wrong code"}}
    api = _client(httpx.MockTransport(lambda _: httpx.Response(401, json=answer)))
    with pytest.raises(InputError) as caught:
        api.call("POST", "/api/v1/register", json={})
    assert (
        caught.value.exit_code == 2 and str(caught.value) == "wrong code (401 invalid_activation)"
    )
