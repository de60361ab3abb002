"""The last admin token cannot be revoked (409, one line): nobody could manage tokens any
more.  Revoking an admin while another one works is fine."""

from __future__ import annotations

from fleet_helpers import Api, error_of


def _id(token: str) -> str:
    return token.removeprefix("pwt_").split(".", 1)[0]


def test_the_last_admin_token_cannot_be_revoked(api: Api) -> None:
    me = _id(api.admin)
    refused = api.call("DELETE", f"/api/v1/tokens/{me}")
    assert error_of(refused) == (409, "last_admin")
    message = refused.json()["error"]["message"]
    assert "last admin token" in message and "\n" not in message
    assert api.ok("GET", "/api/v1/tokens")[0]["revoked_at"] is None
    assert not [e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "token.revoke"]


def test_an_admin_can_be_revoked_while_another_works(api: Api) -> None:
    other = api.ok("POST", "/api/v1/tokens", json={"name": "ops-admin", "role": "admin"})
    api.ok("DELETE", f"/api/v1/tokens/{_id(api.admin)}", other["token"])
    # the remaining admin is now the last one
    refused = api.call("DELETE", f"/api/v1/tokens/{other['id']}", other["token"])
    assert error_of(refused)[0] == 409
    # revoking non-admin tokens is not affected
    viewer = api.ok("POST", "/api/v1/tokens", other["token"], json={"name": "v", "role": "viewer"})
    assert api.ok("DELETE", f"/api/v1/tokens/{viewer['id']}", other["token"])["revoked_at"]
