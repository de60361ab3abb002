"""The AWS connector's boto3 session: credentials from the standard chain only.

Patchwarden never takes, stores or logs AWS secrets: boto3 finds them as the AWS CLI does
(environment, shared config and credentials files, ``--profile``, SSO, the instance or task
role…).  ``--endpoint-url`` (LocalStack, moto) applies to every client.  boto3 is imported
lazily, so ``import patchwarden`` never needs the ``[aws]`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from patchwarden.errors import AdapterError, EnvironmentProblem, InputError

NEEDS_BOTO3 = "the AWS connector needs boto3: pip install 'patchwarden[aws]'"
NO_CREDENTIALS = "no AWS credentials found: set AWS_PROFILE or run aws configure"
NO_REGION = "no AWS region: give --region or set AWS_REGION (or a region in your profile)"
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess")


class AccessDenied(AdapterError):
    """AWS refused a call: the credentials lack a permission (docs/aws-connector.md)."""


@dataclass(frozen=True)
class AwsOptions:
    """``--region``, ``--profile``, ``--endpoint-url``."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


def _boto3() -> Any:
    try:
        import boto3
    except ModuleNotFoundError:
        raise EnvironmentProblem(NEEDS_BOTO3) from None
    return boto3


def new_session(options: AwsOptions) -> Any:
    """A boto3 Session from the standard credential chain (``--profile`` picks a profile)."""
    boto3 = _boto3()
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.session.Session(profile_name=options.profile, region_name=options.region)
    except ProfileNotFound:
        raise InputError(
            f"AWS profile {options.profile!r} not found: "
            "check --profile or `aws configure list-profiles`"
        ) from None


def check_endpoint(url: str | None) -> None:
    """``--endpoint-url`` must be an http(s) URL with a host."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--endpoint-url: not an http(s) URL: {url!r}")


@contextmanager
def aws_errors(service: str) -> Iterator[None]:
    """botocore's exceptions as one-line :class:`PatchwardenError`\\ s saying what to do."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    try:
        yield
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        where = f"AWS {service} {exc.operation_name}"
        if code in DENIED or code.startswith("AccessDenied"):
            raise AccessDenied(
                f"{where}: access denied ({message or code}): grant the permission "
                "(docs/aws-connector.md lists the policy)"
            ) from None
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"):
            raise InputError(f"{where}: AWS rejected the credentials ({code})") from None
        raise AdapterError(f"{where}: {code}: {message}") from None
    except (bx.NoCredentialsError, bx.PartialCredentialsError):
        raise InputError(NO_CREDENTIALS) from None
    except bx.NoRegionError:
        raise InputError(NO_REGION) from None
    except bx.EndpointConnectionError as exc:
        raise AdapterError(
            f"cannot reach AWS {service} at {exc.kwargs.get('endpoint_url', '?')}: "
            "check --endpoint-url, --region and the network"
        ) from None
    except bx.BotoCoreError as exc:
        raise AdapterError(f"AWS {service}: {exc}") from None
    except ResponseParserError:  # an endpoint that is not AWS answering garbage
        raise AdapterError(f"AWS {service}: the endpoint's answer is not AWS's format") from None


@dataclass
class Clients:
    """The boto3 clients of one account and region, made on first use (``overrides``:
    ready clients per service name, e.g. botocore Stubber-backed ones in tests)."""

    session: Any
    endpoint_url: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    _made: dict[str, Any] = field(default_factory=dict, repr=False)
    _account: str | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    """What an importer could not read but worked around (an enrichment call refused:
    the resources are imported without that data)."""

    @property
    def region(self) -> str:
        """The region every client talks to."""
        region = self.session.region_name
        if not region:
            raise InputError(NO_REGION)
        return str(region)

    def __call__(self, service: str) -> Any:
        """The client of ``service`` (``ec2``, ``ssm``…)."""
        if service in self.overrides:
            return self.overrides[service]
        if service not in self._made:
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                user_agent_extra="patchwarden-aws-connector",
            )
            with aws_errors(service):
                try:
                    self._made[service] = self.session.client(
                        service,
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        config=config,
                    )
                except ValueError as exc:  # botocore: "Invalid endpoint: …"
                    raise InputError(f"--endpoint-url: {exc}") from None
        return self._made[service]

    @property
    def account(self) -> str:
        """The account id of the credentials (STS GetCallerIdentity, once)."""
        if self._account is None:
            with aws_errors("sts"):
                self._account = str(self("sts").get_caller_identity()["Account"])
        return self._account


def open_clients(
    options: AwsOptions, session: Any = None, overrides: Mapping[str, Any] | None = None
) -> Clients:
    """The clients of ``options`` (``session``: an injected boto3 Session, for tests);
    fails early without credentials or region."""
    check_endpoint(options.endpoint_url)
    if session is None:
        session = new_session(options)
    with aws_errors("sts"):
        if session.get_credentials() is None:
            raise InputError(NO_CREDENTIALS)
    clients = Clients(session, options.endpoint_url, dict(overrides or {}))
    _ = clients.region
    return clients
