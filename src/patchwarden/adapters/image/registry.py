"""A registry's images over the Registry HTTP API v2 (the OCI distribution API), with httpx.

- manifests asked for with ``Accept`` of the OCI and Docker v2 manifest and index types;
  their digest is ``Docker-Content-Digest`` or the sha256 of the body, and a manifest
  asked for by digest must match it;
- anonymous, or ``Authorization`` after a ``401``: ``Bearer`` tokens from the realm the
  ``WWW-Authenticate`` challenge names (with the credentials, when given, as Basic
  authentication to the realm), or ``Basic`` with the credentials;
- HTTPS; with ``tls_verify=False`` the certificate is not checked and a registry that does
  not speak TLS is reached over plain HTTP (skopeo's ``--tls-verify=false``);
- blobs streamed (redirects to a storage backend followed), never held whole;
- a repository's tags (``tags/list``, paged by ``Link``), a tag's digest, and deleting the
  manifest a tag points at (which the registry must allow: ``storage.delete``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from patchwarden import __version__
from patchwarden.adapters.image.layers import Readable
from patchwarden.adapters.image.manifests import (
    ACCEPT,
    MAX_JSON,
    check_digest,
    digest_of,
    load_json,
)
from patchwarden.adapters.image.reference import DOCKER_HUB, RegistryRef
from patchwarden.errors import EnvironmentProblem, InputError

Credentials = tuple[str, str]
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')
_MAX_PAGES = 1000


def load_credentials(path: Path, host: str) -> Credentials | None:
    """The credentials for ``host`` in ``path``: a container auth file
    (``{"auths": {"HOST": {"auth": base64("user:password")}}}``, as ``skopeo login`` and
    ``docker login`` write) or one line ``user:password``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise InputError(f"--creds-file: cannot read {path} ({why})") from None
    stripped = text.strip()
    if not stripped.startswith("{"):
        user, sep, password = stripped.partition(":")
        if not sep or not user or "\n" in stripped:
            raise InputError(f"--creds-file {path}: expected an auth JSON file or user:password")
        return user, password
    try:
        raw = json.loads(stripped)
    except ValueError:
        raise InputError(f"--creds-file {path}: not valid JSON") from None
    auths = raw.get("auths") if isinstance(raw, dict) else None
    if not isinstance(auths, dict):
        raise InputError(f'--creds-file {path}: no "auths" object')
    names = [host, f"https://{host}", f"http://{host}"]
    if host == DOCKER_HUB:
        names += ["docker.io", "https://index.docker.io/v1/"]
    for name in names:
        entry = auths.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
            try:
                decoded = base64.b64decode(entry["auth"]).decode()
            except (ValueError, UnicodeDecodeError):
                raise InputError(f"--creds-file {path}: the auth of {name} is not base64") from None
            user, sep, password = decoded.partition(":")
            if sep:
                return user, password
    return None


class _Stream:
    """The body of a streamed response as a readable file."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class Registry:
    """One repository of one registry."""

    def __init__(
        self,
        ref: RegistryRef,
        *,
        tls_verify: bool = True,
        credentials: Credentials | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ref = ref
        self.label = f"docker://{ref.host}/{ref.repository}"
        self._credentials = credentials
        self._tls_verify = tls_verify
        self._scheme = "https"
        self._token: str | None = None
        self._basic = False
        self._client = httpx.Client(
            verify=tls_verify,
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": f"patchwarden/{__version__}"},
        )

    def close(self) -> None:
        self._client.close()

    def _url(self, kind: str, reference: str) -> str:
        return f"{self._scheme}://{self.ref.host}/v2/{self.ref.repository}/{kind}/{reference}"

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of the manifest or index ``reference`` names."""
        with self._request(self._url("manifests", reference), {"Accept": ACCEPT}) as response:
            self._check(response, f"{self.label}:{reference}", "manifest")
            body = _limited(response, f"{self.label}:{reference}")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            digest = response.headers.get("Docker-Content-Digest", "") or digest_of(body)
        if ":" in reference:
            check_digest(body, reference, f"{self.label}@{reference}")
            digest = reference
        return body, media_type, digest

    def read(self, digest: str) -> bytes:
        """A small blob (the config), checked against its digest."""
        with self._request(self._url("blobs", digest), {}) as response:
            self._check(response, f"{self.label}@{digest}", "blob")
            body = _limited(response, f"{self.label}@{digest}")
        check_digest(body, digest, f"{self.label}: blob {digest}")
        return body

    def tags(self) -> list[str]:
        """The tags of the repository (``GET /v2/<repo>/tags/list``, following ``Link``
        pages); ``[]`` for a repository the registry does not know."""
        url = f"{self._scheme}://{self.ref.host}/v2/{self.ref.repository}/tags/list"
        found: list[str] = []
        for _ in range(_MAX_PAGES):
            with self._request(url, {"Accept": "application/json"}) as response:
                if response.status_code == 404:
                    return found  # NAME_UNKNOWN: no such repository (yet)
                self._check(response, self.label, "tag list")
                body = load_json(_limited(response, self.label), f"{self.label}: tag list")
                link = response.headers.get("Link", "")
                base = response.url
            tags = body.get("tags")  # distribution 2.8 answers "tags": null once all are gone
            if tags is not None and not (
                isinstance(tags, list) and all(isinstance(t, str) for t in tags)
            ):
                raise EnvironmentProblem(f"{self.label}: the tag list is not a list of names")
            found += tags or []
            following = _next_page(link)
            if not following:
                return found
            url = str(base.join(following))
        raise EnvironmentProblem(f"{self.label}: more than {_MAX_PAGES} pages of tags")

    def digest_of(self, tag: str) -> str | None:
        """The digest of the manifest or index ``tag`` points at (``HEAD`` with the OCI and
        Docker ``Accept`` types: ``Docker-Content-Digest``, else the sha256 of a ``GET``'s
        body); ``None`` when there is no such tag (or repository)."""
        url = self._url("manifests", tag)
        with self._request(url, {"Accept": ACCEPT}, "HEAD") as response:
            if response.status_code == 404:
                return None
            self._check(response, f"{self.label}:{tag}", "manifest")
            digest = str(response.headers.get("Docker-Content-Digest", ""))
        if digest:
            return digest
        with self._request(url, {"Accept": ACCEPT}) as response:
            if response.status_code == 404:
                return None
            self._check(response, f"{self.label}:{tag}", "manifest")
            return digest_of(_limited(response, f"{self.label}:{tag}"))

    def delete_tag(self, tag: str) -> str | None:
        """Delete the manifest ``tag`` points at (``DELETE /v2/<repo>/manifests/<digest>``);
        the digest deleted, or ``None`` when there was no such tag.

        The Registry HTTP API v2 deletes manifests, not tags: this removes **every** tag of
        the repository that points at the same digest (distribution 2.8 drops them from the
        tag list too).  A registry that does not allow deletion (``405 UNSUPPORTED``) is an
        :class:`EnvironmentProblem` saying how to enable it."""
        digest = self.digest_of(tag)
        if digest is None:
            return None
        label = f"{self.label}:{tag}"
        with self._request(self._url("manifests", digest), {}, "DELETE") as response:
            status = response.status_code
            if status in (200, 202, 204):
                return digest
            if status == 404:
                return None  # deleted meanwhile
            if status == 405:
                raise EnvironmentProblem(
                    f"registry {self.ref.host} does not allow deleting {label} (HTTP 405): "
                    "enable deletion in its configuration (storage: delete: enabled: true, "
                    "or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it"
                )
            self._check(response, label, "manifest")
            raise EnvironmentProblem(f"{label}: the registry answered HTTP {status} to DELETE")

    @contextmanager
    def stream(self, digest: str) -> Iterator[Readable]:
        """A layer blob as a stream."""
        with self._request(self._url("blobs", digest), {}) as response:
            self._check(response, f"{self.label}@{digest}", "blob")
            try:
                yield _Stream(response.iter_bytes(1 << 16))
            except httpx.HTTPError as exc:
                raise EnvironmentProblem(f"{self.label}: reading blob {digest}: {exc}") from None

    @contextmanager
    def _request(
        self, url: str, headers: dict[str, str], method: str = "GET"
    ) -> Iterator[httpx.Response]:
        """``method`` (GET by default) on ``url``, streamed, authenticating once when
        challenged."""
        for attempt in range(2):
            response = self._send(url, headers, method)
            if response.status_code == 401 and attempt == 0 and self._authenticate(response):
                response.close()
                url = self._rescheme(url)
                continue
            try:
                yield response
            finally:
                response.close()
            return

    def _send(self, url: str, headers: dict[str, str], method: str = "GET") -> httpx.Response:
        auth = dict(headers)
        if self._token:
            auth["Authorization"] = f"Bearer {self._token}"
        elif self._basic and self._credentials:
            auth["Authorization"] = _basic(self._credentials)
        try:
            request = self._client.build_request(method, self._rescheme(url), headers=auth)
            return self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            if self._scheme == "https" and not self._tls_verify:
                self._scheme = "http"  # skopeo's --tls-verify=false: plain HTTP next
                return self._send(url, headers, method)
            hint = " (a plain-HTTP registry needs --no-tls-verify)" if "SSL" in str(exc) else ""
            raise EnvironmentProblem(
                f"cannot reach registry {self.ref.host}: {_reason(exc)}{hint}"
            ) from None
        except httpx.HTTPError as exc:
            raise EnvironmentProblem(
                f"registry {self.ref.host}: request failed: {_reason(exc)}"
            ) from None

    def _rescheme(self, url: str) -> str:
        scheme, _, rest = url.partition("://")
        return f"{self._scheme}://{rest}" if scheme != self._scheme else url

    def _authenticate(self, response: httpx.Response) -> bool:
        """Answer a ``401``'s challenge; whether to try again."""
        challenge = response.headers.get("WWW-Authenticate", "")
        kind, _, params = challenge.partition(" ")
        if kind.lower() == "basic":
            if not self._credentials:
                raise InputError(
                    f"registry {self.ref.host} asks for credentials: give --creds-file"
                )
            self._basic = True
            return True
        if kind.lower() != "bearer":
            return False
        fields = dict(_CHALLENGE.findall(params))
        realm = fields.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise EnvironmentProblem(f"registry {self.ref.host}: bad token realm {realm!r}")
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{self.ref.repository}:pull")
        headers = {"Authorization": _basic(self._credentials)} if self._credentials else {}
        try:
            answer = self._client.get(realm, params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise EnvironmentProblem(
                f"registry {self.ref.host}: token service {realm}: {_reason(exc)}"
            ) from None
        if answer.status_code in (401, 403):
            raise InputError(
                f"registry {self.ref.host}: the token service refused "
                + ("the credentials" if self._credentials else "anonymous access (--creds-file)")
            )
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if answer.status_code != 200 or not isinstance(token, str):
            raise EnvironmentProblem(
                f"registry {self.ref.host}: no token from {realm} (HTTP {answer.status_code})"
            )
        self._token = token
        return True

    def _check(self, response: httpx.Response, label: str, what: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 404:
            raise InputError(f"{label}: no such {what} in the registry (HTTP 404)")
        if status in (401, 403):
            raise InputError(
                f"{label}: access denied (HTTP {status})"
                + ("" if self._credentials else "; give --creds-file")
            )
        raise EnvironmentProblem(f"{label}: the registry answered HTTP {status}")


def _limited(response: httpx.Response, label: str) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_JSON:
            raise InputError(f"{label}: larger than {MAX_JSON >> 20} MiB: not a manifest")
    return bytes(body)


def _next_page(link: str) -> str:
    """The target of a ``Link: <URL>; rel="next"`` header (``""`` when there is none)."""
    match = _NEXT.search(link)
    return match.group(1) if match else ""


def _basic(credentials: Credentials | None) -> str:
    user, password = credentials or ("", "")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__
