"""Identifiers and credential secrets.

Credentials are random 256-bit secrets, stored as SHA-256 only and compared in constant
time.  A slow KDF (argon2, bcrypt) protects *low-entropy* passwords from guessing; a random
256-bit secret cannot be guessed, so SHA-256 is enough — and a KDF costing ~50 ms per check
would cap a server at a few dozen authenticated polls per second per core, far from the
10,000 nodes polling every 10 s the fleet is designed for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_secret() -> str:
    """A fresh URL-safe secret (256 bits) that does not start with ``-``: activation codes
    and tokens are typed after a flag (``--activation-code CODE``), where argparse would take
    a leading dash for an option."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, stored_hash: str) -> bool:
    """Constant-time check of ``secret`` against its stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def node_id() -> str:
    """``mi-`` + 17 hex characters (the hybrid-node id pattern)."""
    return "mi-" + secrets.token_hex(9)[:17]


def baseline_id() -> str:
    """``pb-`` + 17 hex characters."""
    return "pb-" + secrets.token_hex(9)[:17]


def token_id() -> str:
    """12 hex characters."""
    return secrets.token_hex(6)


def new_uuid() -> str:
    """A random UUID (activation, command and invocation ids)."""
    return str(uuid.uuid4())
