"""Helpers of the vulnerability-database tests: a local feed server, fixtures, the CLI.

- :class:`FeedServer`: stdlib ``http.server`` on 127.0.0.1 in a thread, serving byte
  strings with ETag/Last-Modified (answering 304 to conditional requests), optional
  published MD5 (``x-goog-hash``, as the OSV bucket sends), a body cut off before its
  ``Content-Length``, or a close-delimited body without one;
- :func:`osv_zip`: an OSV ``all.zip`` from fixture records;
- :func:`run_cli`: ``patchwarden.cli.main.main(argv)`` with the ``db`` group registered.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from patchwarden.adapters.http import HttpDownloader
from patchwarden.adapters.vulndb import SqliteVulnDb

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
FIXED_NOW = "2026-11-27T12:00:00+00:00"


@dataclass
class Resource:
    """One file the server serves."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    md5: str | None = None
    """Base64 MD5 to publish in ``x-goog-hash`` (``"auto"``: the body's own)."""
    cut_at: int | None = None
    """Send only this many bytes of the body (``Content-Length`` stays the full size)."""
    no_length: bool = False


@dataclass
class FeedServer:
    """A local HTTP server for feed files; ``requests`` records (path, headers)."""

    files: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def conditional(self, path: str) -> list[dict[str, str]]:
        """Headers of the requests for ``path``."""
        return [h for p, h in self.requests if p == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers.items())))
            res = server.files.get(self.path)
            if res is None:
                self.send_error(404)
                return
            if (res.etag and self.headers.get("If-None-Match") == res.etag) or (
                res.last_modified and self.headers.get("If-Modified-Since") == res.last_modified
            ):
                self.send_response(304)
                if res.etag:
                    self.send_header("ETag", res.etag)
                self.end_headers()
                return
            self.send_response(200)
            if not res.no_length:
                self.send_header("Content-Length", str(len(res.body)))
            if res.etag:
                self.send_header("ETag", res.etag)
            if res.last_modified:
                self.send_header("Last-Modified", res.last_modified)
            if res.md5:
                digest = res.md5
                if digest == "auto":
                    digest = base64.b64encode(hashlib.md5(res.body).digest()).decode()
                self.send_header("x-goog-hash", f"crc32c=AAAAAA==, md5={digest}")
            self.end_headers()
            self.wfile.write(res.body if res.cut_at is None else res.body[: res.cut_at])
            self.wfile.flush()
            self.close_connection = True

    return Handler


@pytest.fixture
def feed_server() -> Iterable[FeedServer]:
    """A running :class:`FeedServer` on 127.0.0.1 (stopped after the test)."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteVulnDb]:
    """A vulnerability database under the test's home (closed after the test)."""
    store = SqliteVulnDb(tmp_path / "home" / "vulndb.sqlite")
    yield store
    store.close()


@pytest.fixture
def downloader() -> Iterator[HttpDownloader]:
    """The real downloader (httpx), closed after the test."""
    client = HttpDownloader(timeout=10)
    yield client
    client.close()


def osv_zip(dest: Path, names: Sequence[str]) -> Path:
    """An OSV ``all.zip`` at ``dest`` from the fixture records ``names`` (``DSA-3029-1``…)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(DATA / "osv" / f"{name}.json", f"{name}.json")
    return dest


def run_cli(argv: Sequence[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the real command line with the ``db`` group registered; the exit code."""
    from patchwarden.cli import db, main

    monkeypatch.setattr(main, "_command_groups", lambda: [db.register])
    with pytest.raises(SystemExit) as exit_info:
        main.main(list(argv))
    code = exit_info.value.code
    return code if isinstance(code, int) else 1
