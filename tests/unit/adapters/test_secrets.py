"""Identifiers and secrets of the server's storage."""

from __future__ import annotations

import pytest

from patchwarden.adapters.storage import secrets as ids


def test_a_secret_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--activation-code -x…`` reads as an option to argparse: such a code (1 in 64 of
    token_urlsafe's) made `patchwarden agent register` fail at random."""
    drawn = iter(["-starts-with-a-dash", "_fine-secret"])
    monkeypatch.setattr(ids.secrets, "token_urlsafe", lambda n: next(drawn))
    assert ids.new_secret() == "_fine-secret"


def test_secrets_are_256_bit_and_verify() -> None:
    secret = ids.new_secret()
    assert len(secret) == 43 and not secret.startswith("-")
    assert ids.verify(secret, ids.hash_secret(secret))
    assert not ids.verify(secret + "x", ids.hash_secret(secret))
    assert ids.node_id().startswith("mi-") and len(ids.node_id()) == 20
