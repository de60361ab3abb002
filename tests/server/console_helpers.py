"""Helpers of the console tests: a signed-in test client, the CSRF token of a page, the
numbers a page marks with ``data-metric``."""

from __future__ import annotations

import re
from typing import Any

from fleet_helpers import Api

from patchwarden.server.web.session import COOKIE


def signed_in(api: Api, role: str = "viewer") -> Any:
    client = api.client
    client.cookies.clear()
    r = client.post("/login", data={"token": api.token(role), "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    assert COOKIE in r.cookies
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


def metric(html: str, name: str) -> int:
    found = re.search(rf'data-metric="{re.escape(name)}">(\d+)', html)
    assert found, name
    return int(found.group(1))
