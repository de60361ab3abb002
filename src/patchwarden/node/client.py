"""The server's agent endpoints over ``urllib`` (TLS with the system's CAs or ``--ca-file``).

A 4xx answer is :class:`Refused` (final: the request itself is wrong); a 5xx answer, a
connection error or a malformed answer is :class:`Unavailable` (tried again later).
"""

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, List, Optional

from patchwarden import __version__, wire

DEFAULT_TIMEOUT = 30.0


class Refused(Exception):
    """The server refused the request (4xx); ``code`` is its machine code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Unavailable(Exception):
    """The server could not be reached, failed (5xx) or answered nonsense."""


def _error_of(status: int, raw: bytes) -> Refused:
    code, message = "", ""
    try:
        body = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = str(err.get("code") or "")
            message = str(err.get("message") or "")
        elif isinstance(body.get("detail"), str):
            message = body["detail"]
        elif body.get("detail") is not None:
            message = json.dumps(body["detail"])[:300]
    if not message:
        message = raw.decode("utf-8", "replace").strip().replace("\n", " ")[:300]
    return Refused(status, code, message or "HTTP {}".format(status))


class Api:
    """One server's endpoints; ``credential`` is the node's bearer credential."""

    def __init__(
        self,
        server: str,
        credential: str = "",
        ca_file: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.server = server.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.context = None  # type: Optional[ssl.SSLContext]
        if self.server.startswith("https:"):
            try:
                self.context = ssl.create_default_context(cafile=ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise Unavailable("cannot read the CA file {}: {}".format(ca_file, exc)) from None

    def _request(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> bytes:
        url = self.server + path
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "patchwarden-node/{}".format(__version__))
        if self.credential:
            request.add_header("Authorization", "Bearer " + self.credential)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        what = "{} {}".format(method, path.split("?")[0])
        try:
            with urllib.request.urlopen(
                request, timeout=timeout or self.timeout, context=self.context
            ) as answer:
                body = answer.read()  # type: bytes
                return body
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp is not None else b""
            if 400 <= exc.code < 500:
                refused = _error_of(exc.code, raw)
                refused.args = (
                    "{} refused {}: {}{}".format(
                        self.server,
                        what,
                        exc.code,
                        " {}".format(refused.code) if refused.code else "",
                    )
                    + ": "
                    + refused.message,
                )
                raise refused from None
            raise Unavailable(
                "{} failed {}: {} {}".format(self.server, what, exc.code, _error_of(exc.code, raw))
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(
                "cannot reach {} ({}): {}".format(self.server, what, reason)
            ) from None

    def call(
        self, method: str, path: str, body: Any = None, timeout: Optional[float] = None
    ) -> Any:
        """Send a JSON body (or none), return the JSON answer."""
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        raw = self._request(method, path, data, headers, timeout)
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise Unavailable(
                "malformed answer from {} to {} {}: not JSON".format(self.server, method, path)
            ) from None

    def put_file(self, path: str, fh: IO[bytes], size: int, content_type: str) -> Any:
        """Stream ``size`` bytes of an open file as the body of a PUT."""
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        raw = self._request("PUT", path, fh, headers)
        try:
            return json.loads(raw.decode("utf-8")) if raw.strip() else None
        except ValueError:
            return None

    def download(self, path: str, out: IO[bytes]) -> int:
        """GET ``path`` into ``out`` (streamed); the number of bytes."""
        url = self.server + path
        request = urllib.request.Request(url, method="GET")
        if self.credential:
            request.add_header("Authorization", "Bearer " + self.credential)
        request.add_header("User-Agent", "patchwarden-node/{}".format(__version__))
        total = 0
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self.context
            ) as answer:
                while True:
                    chunk = answer.read(1 << 20)
                    if not chunk:
                        return total
                    out.write(chunk)
                    total += len(chunk)
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp is not None else b""
            err = _error_of(exc.code, raw)
            text = "{} answered GET {}: {} {}".format(self.server, path, exc.code, err.message)
            if 400 <= exc.code < 500:
                raise Refused(exc.code, err.code, text) from None
            raise Unavailable(text) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(
                "cannot reach {} (GET {}): {}".format(self.server, path, reason)
            ) from None

    # -- typed endpoints ----------------------------------------------------------------

    def _answer(self, read: Any, raw: Any, what: str) -> Any:
        try:
            return read(raw)
        except wire.WireError as exc:  # the server's fault, not the node's: tried later
            raise Unavailable(
                "malformed answer from {} to {}: {}".format(self.server, what, exc)
            ) from None

    def register(self, body: wire.Registration) -> wire.Credential:
        """``POST /api/v1/register``."""
        raw = self.call("POST", "/api/v1/register", body.to_json())
        answer = self._answer(wire.Credential.from_json, raw, "register")  # type: wire.Credential
        return answer

    def poll(self, wait: float) -> List[wire.Delivery]:
        """Invocations to run, waiting up to ``wait`` seconds for one."""
        path = "/api/v1/agent/commands?" + urllib.parse.urlencode({"wait": _seconds(wait)})
        raw = self.call("GET", path, timeout=wait + self.timeout)
        found = self._answer(wire.deliveries, raw, "a poll")  # type: List[wire.Delivery]
        return found

    def report(self, invocation_id: str, result: wire.InvocationResult) -> wire.ResultAck:
        """``POST /api/v1/agent/invocations/{id}``."""
        raw = self.call(
            "POST", "/api/v1/agent/invocations/" + _quote(invocation_id), result.to_json()
        )
        ack = self._answer(wire.ResultAck.from_json, raw, "a result")  # type: wire.ResultAck
        return ack

    def missing_blobs(self, hashes: List[str]) -> List[str]:
        """The hashes the server lacks."""
        raw = self.call("POST", "/api/v1/agent/blobs/missing", wire.BlobQuery(hashes).to_json())
        query = self._answer(
            lambda r: wire.BlobQuery.from_json(r, "answer", key="missing"), raw, "a blob query"
        )  # type: wire.BlobQuery
        return query.hashes

    def put_blob(self, sha256: str, fh: IO[bytes], size: int) -> None:
        """``PUT /api/v1/agent/blobs/{sha256}`` with a gzip body."""
        self.put_file("/api/v1/agent/blobs/" + sha256, fh, size, "application/gzip")

    def upload_facts(self, facts: wire.RootFacts) -> wire.InventoryAck:
        """``POST /api/v1/agent/facts``: the periodic inventory."""
        raw = self.call("POST", "/api/v1/agent/facts", facts.to_json())
        ack = self._answer(wire.InventoryAck.from_json, raw, "facts")  # type: wire.InventoryAck
        return ack

    def evaluate(self, invocation_id: str, body: wire.EvaluateRequest) -> wire.Evaluation:
        """``POST /api/v1/agent/invocations/{id}/evaluate``."""
        path = "/api/v1/agent/invocations/{}/evaluate".format(_quote(invocation_id))
        raw = self.call("POST", path, body.to_json())
        found = self._answer(wire.Evaluation.from_json, raw, "an evaluation")  # type: wire.Evaluation
        return found

    def bundles(self) -> List[Dict[str, Any]]:
        """``GET /agent/bundles``: ``[{"version", "sha256", "size"}]``."""
        raw = self.call("GET", "/agent/bundles")
        items = raw.get("bundles") if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise Unavailable("malformed answer from {} to GET /agent/bundles".format(self.server))
        found = []
        for item in items:
            if (
                isinstance(item, dict)
                and isinstance(item.get("version"), str)
                and wire.is_sha256(item.get("sha256"))
            ):
                found.append(item)
        return found


def _seconds(wait: float) -> str:
    return str(int(wait)) if float(wait).is_integer() else str(wait)


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")
