"""The bearer credential of a request, as text: ``Authorization: Bearer <id>.<secret>``."""

from __future__ import annotations


def bearer_parts(header: str) -> tuple[str, str] | None:
    """(id, secret) of an ``Authorization`` header's bearer credential; None when the header
    is absent, another scheme or malformed."""
    scheme, _, value = header.partition(" ")
    ident, _, secret = value.strip().partition(".")
    if scheme.lower() != "bearer" or not ident or not secret:
        return None
    return ident, secret
