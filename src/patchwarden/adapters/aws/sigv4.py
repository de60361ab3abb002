"""AWS Signature Version 4, verified on the server's side (the AWS-compatible endpoint).

The client (the AWS CLI, boto3, any SDK) signs a canonical form of its request with a key
derived from its secret access key, the date, the region and the service; the server
rebuilds the same canonical request from what it received, derives the same key from the
secret it holds for the access key id, and compares the signatures in constant time.  The
steps follow AWS's "Create a signed AWS API request" (SigV4): canonical request (method,
URI-encoded path, sorted query, the signed headers lower-cased with trimmed values, the
signed header names, the payload's SHA-256), string to sign (``AWS4-HMAC-SHA256``, the
``X-Amz-Date``, the credential scope, the canonical request's SHA-256), signing key
(HMAC chain ``AWS4<secret>`` → date → region → service → ``aws4_request``).

Refusals carry AWS's error types: an unknown or revoked access key is
``UnrecognizedClientException``; a wrong signature, a missing or malformed header, a scope
for another service or day, or a date more than 15 minutes away from the server's clock is
``InvalidSignatureException`` (both HTTP 400, as AWS answers).  Any region is accepted and
reported (the fleet has one region: wherever the server runs).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
"""How far the request's date may be from the server's clock (AWS: 15 minutes)."""
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
    r"\s*Signature=([0-9a-f]{64})\s*$"
)
_SPACES = re.compile(r"\s+")


class SignatureError(Exception):
    """A refused request: the AWS error type and its message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> SignatureError:
    return SignatureError("InvalidSignatureException", message)


@dataclass(frozen=True)
class Signed:
    """Who signed a verified request, and for which region."""

    access_key_id: str
    region: str
    signed_at: datetime


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The key of one day, region and service derived from a secret access key."""
    k_date = _hmac(f"AWS4{secret}".encode(), day)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def canonical_query(query: str) -> str:
    """The query string as SigV4 signs it: parameters sorted, names and values encoded."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """The canonical request of SigV4 (``raw_path``: the path exactly as sent)."""
    lines = [method.upper(), quote(raw_path or "/", safe="/~"), canonical_query(query)]
    lines.extend(f"{name}:{_SPACES.sub(' ', headers[name].strip())}" for name in signed_headers)
    return "\n".join([*lines, "", ";".join(signed_headers), payload_hash])


def verify(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    service: str,
    secret_for: Callable[[str], str | None],
) -> Signed:
    """The signer of the request; :class:`SignatureError` when it is not signed right.

    ``headers`` are the received headers with lower-case names; ``secret_for`` gives the
    secret access key of an access key id (``None``: unknown or revoked)."""
    found = _AUTH.match(headers.get("authorization", ""))
    if found is None:
        raise SignatureError(
            "MissingAuthenticationTokenException"
            if "authorization" not in headers
            else "IncompleteSignatureException",
            "Request is missing a valid AWS Signature Version 4 Authorization header "
            "(AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…)",
        )
    credential, signed_list, signature = found.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise _invalid(f"Credential should be scoped to a valid region: {credential!r}")
    access_key, day, region, scoped_service, _ = parts
    if scoped_service != service:
        raise _invalid(f"Credential should be scoped to correct service: '{service}'")
    signed_headers = signed_list.split(";")
    if signed_headers != sorted(signed_headers) or "host" not in signed_headers:
        raise _invalid("SignedHeaders must be sorted and include host")
    missing = [h for h in signed_headers if h not in headers]
    if missing:
        raise _invalid(f"Signed header {missing[0]!r} is not in the request")
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _invalid("X-Amz-Date must be an ISO-8601 basic time (20261206T120000Z)") from None
    if "x-amz-date" not in signed_headers:
        raise _invalid("X-Amz-Date must be signed")
    if day != stamp[:8]:
        raise _invalid(f"Credential scope date {day} is not the request's date {stamp[:8]}")
    if abs(now - signed_at) > MAX_SKEW:
        raise _invalid(
            f"Signature expired: {stamp} is now earlier than or later than "
            f"{now.strftime('%Y%m%dT%H%M%SZ')} by more than 15 minutes"
        )
    secret = secret_for(access_key)
    if secret is None:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    payload = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed != payload and claimed != "UNSIGNED-PAYLOAD":
        raise _invalid("X-Amz-Content-Sha256 does not match the request's body")
    request = canonical_request(method, raw_path, query, headers, signed_headers, payload)
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    expected = hmac.new(
        signing_key(secret, day, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise _invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return Signed(access_key, region, signed_at)
