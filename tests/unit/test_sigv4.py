"""SigV4 verification against botocore's own signer: what the AWS CLI and boto3 send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

botocore = pytest.importorskip("botocore")
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from patchwarden.adapters.aws.sigv4 import SignatureError, verify  # noqa: E402

KEY, SECRET = "PWAKEXAMPLE0000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def signed(
    body: dict[str, Any],
    *,
    secret: str = SECRET,
    region: str = "eu-west-3",
    service: str = "ssm",
    url: str = "http://127.0.0.1:8080/aws/ssm/",
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.DescribeInstanceInformation",
        },
    )
    SigV4Auth(Credentials(KEY, secret), service, region).add_auth(request)  # signed now
    return request


def check(request: AWSRequest, *, later: timedelta = timedelta(), known: bool = True) -> Any:
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = parts.netloc
    return verify(
        method=request.method,
        raw_path=parts.path,
        query=parts.query,
        headers=headers,
        body=request.body if isinstance(request.body, bytes) else request.body.encode(),
        now=datetime.now(UTC) + later,
        service="ssm",
        secret_for=lambda key: SECRET if known and key == KEY else None,
    )


def test_a_request_signed_by_botocore_verifies_in_any_region() -> None:
    for region in ("eu-west-3", "us-east-1", "on-prem"):
        got = check(signed({"MaxResults": 50}, region=region))
        assert (got.access_key_id, got.region) == (KEY, region)
        assert abs(got.signed_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert check(signed({}, url="http://127.0.0.1:8080/aws/ssm/?x=1&a=b%20c")).region


SIGNATURE, MISSING, INCOMPLETE = (
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
)


def _body(r: AWSRequest) -> None:
    r.data = b'{"MaxResults": 51}'


def _header(name: str, value: str | None) -> Any:
    def change(r: AWSRequest) -> None:
        del r.headers[name]
        if value is not None:
            r.headers[name] = value

    return change


@pytest.mark.parametrize(
    ("tamper", "error_type", "words"),
    [
        (_body, SIGNATURE, "does not match"),
        (_header("X-Amz-Target", "AmazonSSM.SendCommand"), SIGNATURE, "does not match"),
        (_header("Authorization", None), MISSING, "Authorization"),
        (_header("Authorization", "Basic eA=="), INCOMPLETE, "AWS4-HMAC-SHA256"),
        (_header("X-Amz-Date", "yesterday"), SIGNATURE, "X-Amz-Date"),
    ],
)  # fmt: skip
def test_tampered_requests_are_refused_with_aws_error_types(
    tamper: Any, error_type: str, words: str
) -> None:
    request = signed({"MaxResults": 50})
    tamper(request)
    with pytest.raises(SignatureError) as refused:
        check(request)
    assert refused.value.error_type == error_type and words in refused.value.message


def test_a_wrong_secret_an_unknown_key_another_service_and_an_old_date() -> None:
    with pytest.raises(SignatureError, match="does not match") as wrong:
        check(signed({}, secret="not-the-secret"))
    assert wrong.value.error_type == "InvalidSignatureException"
    with pytest.raises(SignatureError, match="security token") as unknown:
        check(signed({}), known=False)
    assert unknown.value.error_type == "UnrecognizedClientException"
    with pytest.raises(SignatureError, match="correct service"):
        check(signed({}, service="ec2"))
    with pytest.raises(SignatureError, match="Signature expired"):
        check(signed({}), later=timedelta(minutes=16))
    with pytest.raises(SignatureError, match="Signature expired"):
        check(signed({}), later=-timedelta(minutes=16))
    assert check(signed({}), later=timedelta(minutes=14)).access_key_id == KEY
