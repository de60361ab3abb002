"""Shared pieces of the node component's unit tests (stdlib only, Python 3.6+): a tiny
fake of the server's agent endpoints on 127.0.0.1, a sandbox root, a fake ``apt-get``."""

import gzip
import hashlib
import json
import os
import shutil
import socket
import socketserver
import stat
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from patchwarden import wire  # noqa: E402

STATUS = """Package: dpkg
Status: install ok installed
Architecture: amd64
Version: 1.21.22

Package: foo
Status: install ok installed
Architecture: amd64
Version: 1.0-1
"""

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
"""


def write(path, content, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as fh:
        fh.write(content)


def make_root(base):
    """A small Debian root under ``base``; its path."""
    root = os.path.join(base, "root")
    write(os.path.join(root, "var/lib/dpkg/status"), STATUS)
    write(os.path.join(root, "var/lib/dpkg/arch"), "amd64\ni386\n")
    lists = os.path.join(root, "var/lib/apt/lists")
    write(os.path.join(lists, "deb.example.org_debian_dists_bookworm_InRelease"), "Suite: x\n")
    write(
        os.path.join(lists, "deb.example.org_debian_dists_bookworm_main_binary-amd64_Packages"),
        "Package: foo\nVersion: 1.1-1\nArchitecture: amd64\n",
    )
    write(os.path.join(lists, "lock"), "")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    write(os.path.join(lists, "partial", "half_Packages"), "x")
    os.makedirs(os.path.join(lists, "auxfiles"), exist_ok=True)
    write(
        os.path.join(root, "etc/apt/sources.list"),
        "deb http://deb.example.org/debian bookworm main\n",
    )
    write(os.path.join(root, "etc/apt/apt.conf.d/70debconf"), "// nothing\n")
    write(os.path.join(root, "etc/apt/preferences.d/pin.pref"), "")
    write(os.path.join(root, "etc/os-release"), OS_RELEASE)
    write(os.path.join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n")
    write(os.path.join(root, "etc/hostname"), "sandbox-node\n")
    write(os.path.join(root, "run/reboot-required"), "")
    return root


def logged_calls(path):
    """The argv lists a fake program logged (one JSON list per line; none yet: [])."""
    try:
        with open(path) as fh:
            return [json.loads(line) for line in fh]
    except OSError:
        return []


def free_port():
    """A local port nothing listens on (an unreachable server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha(data):
    return hashlib.sha256(data).hexdigest()


def report(operation, summary, rebooted=False):
    counts = {
        "INSTALLED": 0,
        "INSTALLED_OTHER": 0,
        "INSTALLED_PENDING_REBOOT": 0,
        "INSTALLED_REJECTED": 0,
        "MISSING": 0,
        "FAILED": 0,
        "NOT_APPLICABLE": 0,
    }
    counts.update(summary)
    counts.update(
        {"critical_non_compliant": 0, "security_non_compliant": 0, "other_non_compliant": 0}
    )
    bad = counts["MISSING"] + counts["FAILED"]
    return {
        "schema_version": 1,
        "operation": operation,
        "baseline": {"name": "pb-debian-default"},
        "compliance": "NON_COMPLIANT" if bad else "COMPLIANT",
        "summary": counts,
        "rebooted": rebooted,
        "patches": [],
    }


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeServer:
    """The server's agent endpoints, recording every request."""

    def __init__(self, credential="n-1.secret"):
        self.credential = credential
        self.lock = threading.Lock()
        self.requests = []  # (method, path, headers dict, body bytes)
        self.blobs = {}  # sha256 -> raw bytes
        self.deliveries = []  # handed out at the next poll
        self.results = {}  # invocation id -> result JSON
        self.facts = []  # RootFacts JSON of each /agent/facts
        self.evaluations = []  # EvaluateRequest JSON
        self.order = {"packages": [], "blocked": [], "lock_timeout": 300}
        self.conclude_summary = {"INSTALLED": 1}
        self.reboot = False
        self.lose_blobs_once = False
        self.force_status = None  # answer every request with this status (e.g. 503)
        self.refuse_results = False
        self.bundles = []  # [{"version", "sha256", "size"}]
        self.bundle_bodies = {}  # version -> bytes
        self.register_answer = (200, {"node_id": "n-1", "credential": credential, "tags": {}})
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status, value, content_type="application/json"):
                data = value if isinstance(value, bytes) else json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                body = self._body()
                with server.lock:
                    server.requests.append((method, self.path, dict(self.headers), body))
                if server.force_status is not None:
                    status = server.force_status
                    return self._send(status, {"error": {"code": "x", "message": "forced"}})
                try:
                    status, value = server.route(method, self.path, self.headers, body)
                except Exception as exc:  # shown in the test's failure
                    status, value = 500, {"error": {"code": "bug", "message": repr(exc)}}
                ctype = (
                    "application/octet-stream" if isinstance(value, bytes) else "application/json"
                )
                self._send(status, value, ctype)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self, method=None):
        return [p for m, p, _, _ in self.requests if method is None or m == method]

    def _missing(self, facts):
        return [f["sha256"] for f in facts["files"] if f["sha256"] not in self.blobs]

    def route(self, method, path, headers, body):
        if path == "/api/v1/register" and method == "POST":
            return self.register_answer
        if path == "/agent/bundles":
            return 200, self.bundles
        if path.startswith("/agent/bundle/") and path.endswith(".pyz"):
            version = path[len("/agent/bundle/") : -len(".pyz")]
            if version not in self.bundle_bodies:
                return 404, {"error": {"code": "not_found", "message": "no such bundle"}}
            return 200, self.bundle_bodies[version]
        if headers.get("Authorization") != "Bearer " + self.credential:
            return 401, {"error": {"code": "unauthenticated", "message": "bad credential"}}
        if path.startswith("/api/v1/agent/commands") and method == "GET":
            handed, self.deliveries = self.deliveries, []
            return 200, {"invocations": handed}
        if path == "/api/v1/agent/blobs/missing" and method == "POST":
            hashes = json.loads(body.decode())["hashes"]
            return 200, {"missing": [h for h in hashes if h not in self.blobs]}
        if path.startswith("/api/v1/agent/blobs/") and method == "PUT":
            digest = path.rsplit("/", 1)[1]
            if headers.get("Content-Type") != "application/gzip":
                return 415, {"error": {"code": "unsupported_media_type", "message": "gzip"}}
            raw = gzip.decompress(body)
            if sha(raw) != digest:
                return 400, {"error": {"code": "hash_mismatch", "message": "bad body"}}
            self.blobs[digest] = raw
            return 200, {"sha256": digest}
        if path == "/api/v1/agent/facts" and method == "POST":
            facts = json.loads(body.decode())
            if self._lost() or self._missing(facts):
                return 409, {"error": {"code": "missing_blobs", "message": "lost"}}
            wire.RootFacts.from_json(facts)
            self.facts.append(facts)
            return 200, {"content_hash": "x", "installed_count": 2, "update_count": 1}
        if path.endswith("/evaluate") and method == "POST":
            request = json.loads(body.decode())
            wire.EvaluateRequest.from_json(request)
            if self._lost() or self._missing(request["facts"]):
                return 409, {"error": {"code": "missing_blobs", "message": "lost"}}
            self.evaluations.append(request)
            phase = request["phase"]
            if phase == "scan":
                return 200, {"report": report("Scan", {"MISSING": 1, "INSTALLED": 1})}
            if phase == "plan":
                return 200, {"order": self.order}
            return 200, {
                "report": report("Install", self.conclude_summary),
                "reboot": self.reboot,
            }
        if path.startswith("/api/v1/agent/invocations/") and method == "POST":
            invocation = path.rsplit("/", 1)[1]
            if self.refuse_results:
                return 404, {"error": {"code": "not_found", "message": "no such invocation"}}
            wire.InvocationResult.from_json(json.loads(body.decode()))
            self.results[invocation] = json.loads(body.decode())
            return 200, {"accepted": True, "status": "Success", "command_status": "Success"}
        return 404, {"error": {"code": "not_found", "message": path}}

    def _lost(self):
        if self.lose_blobs_once and self.blobs:
            self.lose_blobs_once = False
            self.blobs.clear()
            return True
        return False


FAKE_APT = r"""#!{python}
import json, os, sys
config = os.environ.get("APT_CONFIG", "")
entry = {{"argv": sys.argv[1:], "apt_config": config, "config_text": "", "config_mode": ""}}
if config:
    entry["config_text"] = open(config).read()
    entry["config_mode"] = oct(os.stat(config).st_mode & 0o777)
names = ("DEBIAN_FRONTEND", "NEEDRESTART_MODE", "LC_ALL")
entry["env"] = {{k: os.environ.get(k, "") for k in names}}
with open(os.environ["FAKE_APT_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\n")
codes = json.loads(os.environ.get("FAKE_APT_CODES", "{{}}"))
key = " ".join(sys.argv[1:])
code = 0
for pattern, value in codes.items():
    if pattern in key:
        code = value
if code:
    sys.stderr.write("E: Unable to locate package for " + key + "\n")
sys.exit(code)
"""


class NodeTestCase(unittest.TestCase):
    """A temporary directory, a root, and a PATH with fake programs first."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pw-node-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.root = make_root(self.tmp)
        self.state_dir = os.path.join(self.tmp, "state")
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        self.apt_log = os.path.join(self.tmp, "apt.log")
        saved = dict(os.environ)
        self.addCleanup(self._restore_env, saved)
        for key in (
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ):
            os.environ.pop(key, None)
        os.environ["PATH"] = self.bin + os.pathsep + os.environ.get("PATH", "")
        os.environ["FAKE_APT_LOG"] = self.apt_log
        os.environ["FAKE_APT_CODES"] = "{}"
        self.fake_program("apt-get", FAKE_APT.format(python=sys.executable))
        self.fake_program("ischroot", "#!/bin/sh\nexit 1\n")

    @staticmethod
    def _restore_env(saved):
        os.environ.clear()
        os.environ.update(saved)

    def fake_program(self, name, text):
        path = os.path.join(self.bin, name)
        write(path, text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def apt_calls(self):
        return logged_calls(self.apt_log)

    def config(self, server, root=None):
        from patchwarden.node.state import NodeConfig

        config = NodeConfig(self.state_dir, server.url, "n-1", server.credential, root or self.root)
        config.save()
        return config


def delivery(invocation_id="inv-1", document="AWS-RunPatchBaseline", **parameters):
    return {
        "invocation_id": invocation_id,
        "command_id": "cmd-1",
        "document_name": document,
        "parameters": parameters or {"Operation": "Scan"},
    }
