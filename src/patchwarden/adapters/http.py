"""HTTPS downloads of feed files (httpx): conditional, size-limited, streamed, verified.

- HTTPS only (plain ``http://`` is accepted for loopback hosts, where tests run);
- ``If-None-Match`` / ``If-Modified-Since`` from the previous download: 304 → not modified;
- a size limit (default 1 GiB) checked against ``Content-Length`` and while streaming;
- streamed to the destination file (never held in memory), SHA-256 computed on the way;
- a body shorter than its ``Content-Length`` (connection cut off) is an error;
- checksums the server publishes are verified: ``Content-MD5`` and Google Cloud Storage's
  ``x-goog-hash: md5=…`` (the OSV bucket sends it for every ``all.zip``).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from patchwarden import __version__
from patchwarden.errors import AdapterError, InputError
from patchwarden.ports import Fetched

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_CHUNK = 1 << 16


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB" if size < (1 << 30) else f"{size / (1 << 30):g} GiB"


class HttpDownloader:
    """The :class:`~patchwarden.ports.Downloader` over HTTPS."""

    def __init__(
        self,
        *,
        max_bytes: int = 1 << 30,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 20.0)),
            follow_redirects=True,
            headers={"User-Agent": f"patchwarden/{__version__}"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def fetch(self, url: str, dest: Path, *, etag: str = "", last_modified: str = "") -> Fetched:
        """Download ``url`` to ``dest`` (see the module docstring for the checks)."""
        _check_url(url)
        headers = {"Accept-Encoding": "gzip"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                _check_url(str(response.url))  # no redirect to plain http
                if response.status_code == 304 and (etag or last_modified):
                    return Fetched(
                        url,
                        None,
                        response.headers.get("ETag", etag),
                        response.headers.get("Last-Modified", last_modified),
                    )
                if response.status_code != 200:
                    raise AdapterError(
                        f"{url}: HTTP {response.status_code} {response.reason_phrase}"
                    )
                return self._save(url, response, dest)
        except httpx.HTTPError as exc:
            raise AdapterError(f"{url}: download failed: {exc or type(exc).__name__}") from exc
        except OSError as exc:
            raise AdapterError(f"{url}: cannot save the download: {exc}") from exc

    def _save(self, url: str, response: httpx.Response, dest: Path) -> Fetched:
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if expected is not None and not encoded and expected > self.max_bytes:
            raise AdapterError(
                f"{url}: {_mib(expected)} is over the limit of {_mib(self.max_bytes)}"
            )
        sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with dest.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise AdapterError(f"{url}: larger than the limit of {_mib(self.max_bytes)}")
                sha256.update(chunk)
                md5.update(chunk)
                out.write(chunk)
        if expected is not None and not encoded and size != expected:
            raise AdapterError(f"{url}: cut off: {size} of {expected} bytes received")
        published = None if encoded else _published_md5(response.headers)
        if published is not None and published != md5.digest():
            raise AdapterError(
                f"{url}: checksum mismatch: the server published MD5 "
                f"{published.hex()}, the download has {md5.hexdigest()}"
            )
        return Fetched(
            url,
            dest,
            response.headers.get("ETag", ""),
            response.headers.get("Last-Modified", ""),
            sha256.hexdigest(),
            size,
        )


def _published_md5(headers: httpx.Headers) -> bytes | None:
    values = [h.strip() for h in headers.get_list("x-goog-hash", split_commas=True)]
    values = [v.removeprefix("md5=") for v in values if v.startswith("md5=")]
    values += headers.get_list("Content-MD5")
    for value in values:
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            continue
    return None


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return
    raise InputError(f"{url}: feeds are downloaded over HTTPS only")
