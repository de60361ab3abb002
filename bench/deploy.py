"""Benchmark: from "fix published" to "green serving traffic" for the example service of
docs/deployments.md, split into detect / build / gate / deploy, with a client polling the
service all along — against a naive replacement of the same instances without a deployment.

Everything is offline, on 127.0.0.1 only, in a temporary directory: a ``copy://`` mirror of
apt's cached .debs (``examples/images/support/local-mirror.py``), a temporary
``PATCHWARDEN_HOME`` with the example vulnerability database imported (``patchwarden db
import examples/images/support/example-vulns.json``, so the pipeline's scan and gate *run*),
and a copy of ``examples/deployments/web.yaml`` with the mirror pointed at the temporary
one, free ports instead of 8080/18080, and **``terminationWaitTimeInMinutes: 0.05``** (blue
is kept 3 s instead of the example's 15 s) — the same edits as
``tests/integration/test_deploy_e2e.py`` —, and without the pipeline's ``deployment:``
(automatic promotion by ``image build``) when it has one, so that the deploy is its own
command and is measured apart.

Setup (not measured): ``web-site 1.0`` (``examples/deployments/support/site-package.py``)
published, ``image build DOCS --pipeline web``, ``deploy start DOCS --deployment web`` (the
group's first run: blue is ``web 1.0.0/1``), and the naive reference's own two instances of
the same image started (below).  Then, per repetition k (``--repeat N``, default 3):

1. **publish** (reported apart, not counted): ``site-package.py 1.k`` and
   ``local-mirror.py MIRROR --publish web-site_1.k_all.deb``; t0 is when it returns;
2. **detect**: ``patchwarden image tree web --documents DOCS -f json`` until the JSON
   marks the newest AVAILABLE ``web`` image ``stale`` (once, in practice): wall time;
3. **build** and **gate**: ``patchwarden image build DOCS --pipeline web --if-stale -q -f
   json``; *gate* is the build log's ``gate`` step (``steps[].phase == "gate"``, its
   ``durationSeconds`` is timed from the start of the scan: image read, assessment against
   the database, gate), *build* is the command's wall time minus that;
4. **deploy**: ``patchwarden deploy start DOCS --deployment web -q -f json`` (BlueGreen);
   *to green serving* = the ``at`` of the run's ``TrafficShifted`` event at 100 % minus
   the wall-clock start of the command; *whole run* = the command's wall time (until
   ``Succeeded``: includes the 3 s termination wait and stopping blue);
5. **naive replacement** (the reference, interleaved): a
   ``patchwarden.adapters.deployers.runc.RuncDeployer`` of its own (its own state directory
   and runc root, its own two ports, instances ``naive-0``/``naive-1``) runs the previous
   image; ``stop()`` both, ``start()`` the new image on the same slots 0/1; its time is
   from the first stop until both ports answer the new ``index.html``.

One poller thread GETs ``/index.html`` through nginx every 20 ms for the whole repetition
(publish to the end of the naive part); another GETs the naive instance on slot 0 directly
during the naive part.  A request that fails (refused, reset, cut short, timeout 5 s, non-200)
counts as failed.  "fix → green serving" = detect + build + gate + to green serving; it is also
compared with what the poller saw (its first ``web-site 1.k`` body).

Child processes run without ``PYTHONDONTWRITEBYTECODE`` (bytecode caches are used, as an
installed patchwarden would).  Prints Markdown tables (median, min, max over the
repetitions).  Every runc container and the nginx are removed at the end.  Not a test:
nothing asserts on time.  Run as root (runc and the build's chroot need it):
``env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/deploy.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples/deployments/web.yaml"
SITE_PACKAGE = REPO / "examples/deployments/support/site-package.py"
MIRROR_SCRIPT = REPO / "examples/images/support/local-mirror.py"
VULNS = REPO / "examples/images/support/example-vulns.json"
EXAMPLE_MIRROR = "/var/lib/patchwarden-example/repo"
TERMINATION_WAIT = "terminationWaitTimeInMinutes: 0.05"
PROMOTION = re.compile(r"^  deployment: \S+.*\n", re.MULTILINE)
"""An ImagePipeline's ``deployment:`` (automatic promotion by ``image build``)."""
TOOLS = ("mmdebstrap", "umoci", "apt-ftparchive", "dpkg", "dpkg-deb", "runc", "nginx", "cp")
POLL_INTERVAL = 0.02


def fail(message: str) -> None:
    sys.exit(f"bench/deploy.py: {message}")


def child_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE (``env -u``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def sh(argv: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """Run ``argv``; its stdout; a one-line exit on failure."""
    result = subprocess.run(argv, env=env or child_env(), capture_output=True, text=True)
    if result.returncode not in ok:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        fail(f"{' '.join(argv[:4])}: exited {result.returncode}: {lines[-1] if lines else ''}")
    return result.stdout


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, Any]:
    """Run ``argv`` (``-f json``): (wall-clock start, seconds, its JSON output)."""
    wall = time.time()
    began = time.perf_counter()
    out = sh(argv, env)
    seconds = time.perf_counter() - began
    try:
        return wall, seconds, json.loads(out)
    except ValueError:
        fail(f"{' '.join(argv[:3])}: no JSON on stdout: {out[:200]!r}")
        raise


def preflight() -> None:
    """One line and exit 1 when this machine cannot run the benchmark."""
    if os.geteuid() != 0:
        fail("run as root (runc and the build's chroot need it)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        fail(f"{', '.join(missing)}: command not found (make debian-deps)")
    check = subprocess.run(
        [sys.executable, str(MIRROR_SCRIPT), "--check"], capture_output=True, text=True
    )
    if check.returncode != 0:
        fail(f"apt's cache lacks the minbase .debs (make image-debs): {check.stderr.strip()}")


def free_ports(count: int) -> list[int]:
    """``count`` consecutive free ports on 127.0.0.1."""
    for base in range(23000, 60000, 101):
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    fail("no free ports on 127.0.0.1")
    raise AssertionError


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode().strip()


class Poller:
    """GETs ``url`` every 20 ms in a thread: (monotonic time, body or None on failure)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[float, str | None]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.results.append((time.perf_counter(), get(self.url)))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                self.results.append((time.perf_counter(), None))
                self.errors.append(str(exc))
            time.sleep(POLL_INTERVAL)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def served(self) -> int:
        return sum(1 for _, body in self.results if body is not None)

    @property
    def failed(self) -> int:
        return sum(1 for _, body in self.results if body is None)

    def first(self, body: str) -> float | None:
        return next((t for t, b in self.results if b == body), None)


def newest_stale(tree: list[dict[str, Any]]) -> tuple[str, bool]:
    """(version, stale) of the newest AVAILABLE ``web`` image in ``image tree -f json``."""
    found: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            if node["name"] == "web" and node["status"] == "AVAILABLE":
                found.append(node)
            walk(node["children"])

    for root in tree:
        walk(root["images"])
    if not found:
        fail("image tree: no AVAILABLE web image")
    newest = max(found, key=lambda n: int(n["version"].rpartition("/")[2]))
    return newest["version"], bool(newest["stale"])


class Naive:
    """The reference: the service's two instances replaced in place by a bare deployer."""

    def __init__(self, state: Path, base_port: int, catalog: Path) -> None:
        from patchwarden.adapters.deployers.runc import RuncDeployer

        self.deployer = RuncDeployer(state, base_port=base_port, stop_timeout=10.0)
        self.catalog = catalog
        self.urls = [f"http://127.0.0.1:{base_port + slot}/index.html" for slot in (0, 1)]
        self.instances: list[Any] = []

    def record(self, version: str) -> Any:
        from patchwarden.adapters.image.catalog import LocalImageCatalog

        catalog = LocalImageCatalog(self.catalog)
        try:
            record = catalog.get("web", version)
        finally:
            catalog.close()
        if record is None:
            fail(f"web {version}: not in {self.catalog}")
        return record

    def start(self, version: str) -> None:
        record = self.record(version)
        self.instances = [self.deployer.start(record, f"naive-{slot}", slot) for slot in (0, 1)]

    def replace(self, version: str, body: str) -> float:
        """Stop both, start ``version`` on the same slots: seconds until both serve ``body``."""
        record = self.record(version)
        began = time.perf_counter()
        for instance in self.instances:
            self.deployer.stop(instance)
        self.instances = [self.deployer.start(record, f"naive-{slot}", slot) for slot in (0, 1)]
        waiting = set(self.urls)
        deadline = began + 60
        while waiting:
            for url in sorted(waiting):
                try:
                    if get(url) == body:
                        waiting.discard(url)
                except (urllib.error.URLError, OSError, http.client.HTTPException):
                    pass
            if time.perf_counter() > deadline:
                fail(f"naive replacement: {', '.join(waiting)} not serving {body!r} after 60 s")
            if waiting:
                time.sleep(0.01)
        return time.perf_counter() - began

    def cleanup(self) -> None:
        """Delete whatever runc still knows under the reference's own root."""
        for name in self.deployer.running():
            subprocess.run(
                ["runc", "--root", str(self.deployer.runc_root), "delete", "--force", name],
                capture_output=True,
            )


def cleanup_group(home: Path) -> None:
    """Every runc container of the group and its nginx (as the e2e test's teardown)."""
    runc_root = home / "deployments/groups/web/runc/runc"
    if runc_root.exists():
        listed = subprocess.run(
            ["runc", "--root", str(runc_root), "list", "-q"], capture_output=True, text=True
        )
        for name in listed.stdout.split():
            subprocess.run(
                ["runc", "--root", str(runc_root), "delete", "--force", name],
                capture_output=True,
            )
    nginx = home / "deployments/groups/web/nginx"
    conf = next(iter(nginx.glob("*.conf")), None) if nginx.exists() else None
    if conf is not None:
        subprocess.run(
            ["nginx", "-s", "stop", "-c", str(conf), "-p", str(nginx)], capture_output=True
        )


def since(at: str, wall: float) -> float:
    return datetime.fromisoformat(at).timestamp() - wall


def repetition(
    k: int, pw: str, env: dict[str, str], work: Path, docs: Path, router: int, naive: Naive
) -> dict[str, float]:
    """One fix, detected, rebuilt, gated and deployed; then the naive replacement."""
    mirror, debs = work / "mirror", work / "debs"
    body = f"web-site 1.{k}"
    row: dict[str, float] = {}
    with Poller(f"http://127.0.0.1:{router}/index.html") as poller:
        began = time.perf_counter()
        sh([sys.executable, str(SITE_PACKAGE), f"1.{k}", str(debs)])
        deb = debs / f"web-site_1.{k}_all.deb"
        sh([sys.executable, str(MIRROR_SCRIPT), str(mirror), "--publish", str(deb)])
        t0 = time.perf_counter()
        row["publish"] = t0 - began

        tries = 0
        while True:
            tries += 1
            _, _, tree = timed(
                [pw, "image", "tree", "web", "--documents", str(docs), "-f", "json"], env
            )
            version, stale = newest_stale(tree)
            if stale:
                break
            if tries >= 20:
                fail(f"image tree: web {version} still not stale after {tries} tries")
        row["detect"] = time.perf_counter() - t0
        row["detect tries"] = tries

        _, wall, record = timed(
            [pw, "image", "build", str(docs), "--pipeline", "web", "--if-stale", "-q",
             "-f", "json"],
            env,
        )  # fmt: skip
        if record.get("status") != "AVAILABLE":
            fail(f"image build ended {record.get('status')}: {record.get('reason')}")
        steps = record["steps"]
        gates = [s for s in steps if s["phase"] == "gate"]
        if not gates or gates[0]["status"] != "Success":
            fail(f"image build: no successful gate step in {[s['phase'] for s in steps]}")
        scans = [s for s in steps if s["phase"] == "scan"]
        row["gate"] = float(gates[0]["durationSeconds"])
        row["scan (in gate)"] = sum(float(s["durationSeconds"]) for s in scans)
        row["build"] = wall - row["gate"]
        new = record["version"]

        started_wall, whole, run = timed(
            [pw, "deploy", "start", str(docs), "--deployment", "web", "-q", "-f", "json"], env
        )
        deploy_began = time.perf_counter() - whole
        if run["status"] != "Succeeded" or run["image"] != f"web {new}":
            fail(f"deploy start: {run['status']} {run['image']}: {run.get('reason')}")
        events = run["events"]
        shifted = [
            e for e in events if e["event"] == "TrafficShifted" and e["green_percent"] == 100
        ]
        if not shifted:
            fail(f"deploy start: no TrafficShifted 100% in {[e['event'] for e in events]}")
        first = {}
        for e in events:
            first.setdefault(e["event"], since(e["at"], started_wall))
        row["deploy: to green serving"] = since(shifted[0]["at"], started_wall)
        row["deploy: whole run"] = whole
        row["deploy: start-up (to Created)"] = first.get("Created", 0.0)
        green_started = [
            since(e["at"], started_wall) for e in events if e["event"] == "GreenStarted"
        ]
        row["deploy: first green started"] = min(green_started) - first.get("Created", 0.0)
        row["deploy: second green started"] = max(green_started) - min(green_started)
        row["deploy: healthy"] = first["Healthy"] - max(green_started)
        row["deploy: traffic shifted"] = row["deploy: to green serving"] - first["Healthy"]
        row["fix to green serving"] = (
            row["detect"] + row["build"] + row["gate"] + row["deploy: to green serving"]
        )
        seen = poller.first(body)
        row["poller: first new body after t0"] = (seen - t0) if seen is not None else float("nan")
        row["poller: first new body after deploy start"] = (
            (seen - deploy_began) if seen is not None else float("nan")
        )

        with Poller(naive.urls[0]) as direct:
            time.sleep(0.2)
            row["naive replacement"] = naive.replace(new, body)
            time.sleep(0.2)
        row["naive: served"] = direct.served
        row["naive: failed"] = direct.failed
        row["naive: poller downtime"] = downtime(direct.results)
    row["blue/green: served"] = poller.served
    row["blue/green: failed"] = poller.failed
    if poller.errors:
        print(f"  blue/green poller errors: {poller.errors[:3]}", file=sys.stderr)
    return row


def downtime(results: list[tuple[float, str | None]]) -> float:
    """From the last success before the first failure to the first success after the last
    failure (0 when nothing failed)."""
    failed = [i for i, (_, body) in enumerate(results) if body is None]
    if not failed:
        return 0.0
    before = results[failed[0] - 1][0] if failed[0] > 0 else results[0][0]
    after = results[failed[-1] + 1][0] if failed[-1] + 1 < len(results) else results[-1][0]
    return after - before


def stats(values: list[float]) -> str:
    return (
        f"{statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | "
        + ", ".join(f"{v:.2f}" for v in values)
    )


def counts(values: list[float]) -> str:
    return f"{sum(values):.0f} | " + ", ".join(f"{v:.0f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fixes rolled out (median)")
    args = parser.parse_args()
    preflight()
    pw = str(Path(sys.executable).parent / "patchwarden")
    if not os.access(pw, os.X_OK):
        fail(f"{pw}: not found (make venv)")
    text = EXAMPLE.read_text()
    for needle in (EXAMPLE_MIRROR, "127.0.0.1:8080", "basePort: 18080",
                   "terminationWaitTimeInMinutes: 0.25"):  # fmt: skip
        if needle not in text:
            fail(f"{EXAMPLE}: no {needle!r} to rewrite")
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="pw-bench-deploy-") as tmp:
        work = Path(tmp)
        home = work / "home"
        env = child_env(PATCHWARDEN_HOME=str(home))
        router, bg_base, _, _, _, naive_base, _ = free_ports(7)
        docs = work / "docs"
        docs.mkdir()
        (docs / "web.yaml").write_text(
            text.replace(EXAMPLE_MIRROR, str(work / "mirror"))
            .replace("127.0.0.1:8080", f"127.0.0.1:{router}")
            .replace("basePort: 18080", f"basePort: {bg_base}")
            .replace("terminationWaitTimeInMinutes: 0.25", TERMINATION_WAIT)
        )
        # no automatic promotion: the deploy is its own command, measured apart
        (docs / "web.yaml").write_text(PROMOTION.sub("", (docs / "web.yaml").read_text()))
        naive = Naive(work / "naive", naive_base, home / "images/catalog.db")
        try:
            print("setup: mirror, web-site 1.0, database, image 1, first deploy", file=sys.stderr)
            sh([sys.executable, str(MIRROR_SCRIPT), str(work / "mirror")])
            sh([sys.executable, str(SITE_PACKAGE), "1.0", str(work / "debs")])
            deb = work / "debs/web-site_1.0_all.deb"
            sh([sys.executable, str(MIRROR_SCRIPT), str(work / "mirror"), "--publish", str(deb)])
            sh([pw, "db", "import", str(VULNS)], env)
            _, seconds, record = timed(
                [pw, "image", "build", str(docs), "--pipeline", "web", "-q", "-f", "json"], env
            )
            if record.get("status") != "AVAILABLE":
                fail(f"image build ended {record.get('status')}: {record.get('reason')}")
            _, first_deploy, run = timed(
                [pw, "deploy", "start", str(docs), "--deployment", "web", "-q", "-f", "json"],
                env,
            )
            if run["status"] != "Succeeded":
                fail(f"first deploy: {run['status']}: {run.get('reason')}")
            naive.start(record["version"])
            if get(f"http://127.0.0.1:{router}/index.html") != "web-site 1.0":
                fail("nginx does not serve web-site 1.0 after the first deploy")
            print(
                f"setup: image 1 built in {seconds:.1f} s, first deploy {first_deploy:.1f} s",
                file=sys.stderr,
            )
            for k in range(1, args.repeat + 1):
                rows.append(repetition(k, pw, env, work, docs, router, naive))
                r = rows[-1]
                shown = (
                    "detect", "build", "gate", "deploy: to green serving", "deploy: whole run",
                    "fix to green serving", "naive replacement", "blue/green: failed",
                    "naive: failed",
                )  # fmt: skip
                print(
                    f"run {k}/{args.repeat}: " + ", ".join(f"{key} {r[key]:.2f}" for key in shown),
                    file=sys.stderr,
                )
        finally:
            for instance in naive.instances:
                try:
                    naive.deployer.stop(instance)
                except Exception as exc:
                    print(f"naive stop {instance.instance}: {exc}", file=sys.stderr)
            naive.cleanup()
            cleanup_group(home)
    report(rows, args.repeat)


def report(rows: list[dict[str, float]], repeat: int) -> None:
    def col(key: str) -> list[float]:
        return [r[key] for r in rows]

    print(
        f"\nexample service `web` (busybox httpd + web-site), 2 instances, BlueGreen, "
        f"{TERMINATION_WAIT}; {repeat} fixes (web-site 1.1 … 1.{repeat})\n"
    )
    print("| phase | median s | min | max | runs |")
    print("|---|---:|---:|---:|---|")
    phases = [
        ("publish (site-package.py + local-mirror.py --publish; not counted)", "publish"),
        ("**detect**: `image tree web --documents -f json` until newest is stale", "detect"),
        ("**build**: `image build --if-stale` wall time minus the gate", "build"),
        ("**gate**: the log's `gate` step (scan + judging)", "gate"),
        ("… of which the log's `scan` step", "scan (in gate)"),
        ("**deploy**: `deploy start` to `TrafficShifted` 100 %", "deploy: to green serving"),
        ("… CLI start-up to `Created`", "deploy: start-up (to Created)"),
        (
            "… `Created` to the first `GreenStarted` (umoci unpack of the new image, copy, runc)",
            "deploy: first green started",
        ),
        ("… to the second `GreenStarted` (copy, runc)", "deploy: second green started"),
        ("… to `Healthy` (2 checks in a row, 0.5 s apart)", "deploy: healthy"),
        ("… to `TrafficShifted` 100 % (nginx reload)", "deploy: traffic shifted"),
        ("**fix → green serving** (detect + build + gate + deploy)", "fix to green serving"),
        ("poller's first new body, after t0", "poller: first new body after t0"),
        (
            "poller's first new body, after `deploy start` began",
            "poller: first new body after deploy start",
        ),
        (
            "`deploy start` whole run (until `Succeeded`: 3 s bake, blue stopped)",
            "deploy: whole run",
        ),
        (
            "**naive replacement** (stop 2, start 2 of the new image, until both serve)",
            "naive replacement",
        ),
        (
            "naive: poller's downtime (last answer before to first after the failures)",
            "naive: poller downtime",
        ),
    ]
    for name, key in phases:
        print(f"| {name} | {stats(col(key))} |")
    fix = statistics.median(col("fix to green serving"))
    to_green = statistics.median(col("deploy: to green serving"))
    naive = statistics.median(col("naive replacement"))
    print(f"\n| ratio (medians) | vs naive replacement ({naive:.2f} s) |")
    print("|---|---:|")
    print(f"| fix → green serving ({fix:.2f} s) | {fix / naive:.1f}\u00d7 |")
    print(f"| `deploy start` to green serving ({to_green:.2f} s) | {to_green / naive:.2f}\u00d7 |")
    print("\n| approach | failed requests | per run | requests served | per run |")
    print("|---|---:|---|---:|---|")
    print(
        f"| blue/green via nginx, whole repetition | {counts(col('blue/green: failed'))} | "
        f"{counts(col('blue/green: served'))} |"
    )
    print(
        f"| naive replacement, instance port directly | {counts(col('naive: failed'))} | "
        f"{counts(col('naive: served'))} |"
    )
    tries = col("detect tries")
    if any(t > 1 for t in tries):
        print(f"\n(detect needed {', '.join(f'{t:.0f}' for t in tries)} `image tree` calls)")


if __name__ == "__main__":
    main()
