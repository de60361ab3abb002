"""The deployer plugins driving real runc, umoci and nginx on loopback.

A tiny image is made without mmdebstrap: the host's busybox and the shared libraries
``ldd`` names, plus ``/srv/www/index.html``, packed with :meth:`OciTools.pack` into one
layout under two tags whose pages differ (``blue`` and ``green``).  Every container, nginx
and hook process a test starts is removed in its fixture's teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from deploy_helpers import free_ports

from patchwarden.adapters.deployers.command import CommandDeployer, CommandRouter
from patchwarden.adapters.deployers.health import CommandProbe, HttpProbe
from patchwarden.adapters.deployers.nginx import NginxRouter
from patchwarden.adapters.deployers.runc import RuncDeployer
from patchwarden.adapters.image.oci_build import OciTools
from patchwarden.adapters.image.push import push
from patchwarden.core.imagebuild import Distributed, ImageRecord, ImageStatus
from patchwarden.core.recipe import ContainerConfig
from patchwarden.core.semver import ImageVersion
from patchwarden.errors import AdapterError, InputError
from patchwarden.ports import StartedInstance

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "examples/deployments/hooks"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
IMAGE_CMD = ("/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p $HOST:$PORT -h /srv/www")
START_VARIABLES = (
    "PATCHWARDEN_INSTANCE", "PATCHWARDEN_SLOT", "PATCHWARDEN_IMAGE", "PATCHWARDEN_IMAGE_VERSION",
    "PATCHWARDEN_IMAGE_TAG", "PATCHWARDEN_IMAGE_DIGEST", "PATCHWARDEN_IMAGE_LAYOUT",
    "PATCHWARDEN_IMAGE_REFERENCES",
)  # fmt: skip
HTTPD_COMMAND = ("/bin/busybox", "httpd", "-f", "-p", "{host}:{port}", "-h", "/srv/www")


def require_tools() -> None:
    """Skip (fail under ``CI``) without root or the tools."""
    missing = [t for t in ("runc", "umoci", "nginx", "busybox", "ldd") if not shutil.which(t)]
    problems = [f"missing tools: {' '.join(missing)}"] if missing else []
    if os.geteuid() != 0:
        problems.append("runc containers need root")
    if problems:
        if os.environ.get("CI"):
            pytest.fail("; ".join(problems) + " (make test prepares them)", pytrace=False)
        pytest.skip("; ".join(problems))


def get(address: str, path: str = "/", timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode().strip()


def wait_healthy(address: str, body: str, seconds: float = 10.0) -> None:
    probe = HttpProbe(expect_body=body, timeout=1.0)
    deadline = time.monotonic() + seconds
    while True:
        result = probe(address)
        if result.healthy:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{address} not healthy: {result.detail}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Images:
    blue: ImageRecord
    green: ImageRecord


def make_rootfs(root: Path) -> None:
    busybox = Path(shutil.which("busybox") or "/bin/busybox").resolve()
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin/busybox")
    ldd = subprocess.run(["ldd", str(busybox)], capture_output=True, text=True, check=False)
    for library in re.findall(r"(/\S+)", ldd.stdout):
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(library).resolve(), target)
    for name in ("tmp", "etc", "srv/www"):
        (root / name).mkdir(parents=True, exist_ok=True)


def pack(root: Path, layout: Path, version: str, page: str, work: Path) -> ImageRecord:
    (root / "srv/www/index.html").write_text(page + "\n", encoding="utf-8")
    image_version = ImageVersion.parse(version)
    digest = OciTools().pack(
        root, layout, image_version.tag, epoch=1_700_000_000, labels=(),
        config=ContainerConfig(cmd=IMAGE_CMD), architecture=OciTools().architecture(),
        work=work,
    )  # fmt: skip
    return ImageRecord(
        "web", image_version, ImageStatus.AVAILABLE, NOW, NOW, digest=digest, layout=str(layout)
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    require_tools()
    base = tmp_path_factory.mktemp("images")
    root = base / "root"
    make_rootfs(root)
    layout = base / "layout"
    blue = pack(root, layout, "1.0.0/1", "hello blue", base)
    green = pack(root, layout, "1.0.0/2", "hello green", base)
    return Images(blue, green)


def _cleanup_runc(deployer: RuncDeployer) -> None:
    for name in deployer.running():
        subprocess.run(
            ["runc", "--root", str(deployer.runc_root), "delete", "--force", name],
            capture_output=True, check=False,
        )  # fmt: skip


@pytest.fixture
def deployer(tmp_path: Path, images: Images) -> Iterator[RuncDeployer]:
    deployer = RuncDeployer(tmp_path / "runc-state", base_port=free_ports(2)[0], stop_timeout=1.0)
    try:
        yield deployer
    finally:
        _cleanup_runc(deployer)


@pytest.fixture
def router(tmp_path: Path, images: Images) -> Iterator[NginxRouter]:
    router = NginxRouter(tmp_path / "nginx", f"127.0.0.1:{free_ports(1)[0]}")
    try:
        yield router
    finally:
        pid = router.pid()
        if pid is not None:
            subprocess.run(
                ["nginx", "-c", str(router.config_path), "-p", str(router.state_dir), "-s", "quit"],
                capture_output=True, check=False,
            )  # fmt: skip
            deadline = time.monotonic() + 5
            while router.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if router.running():
                os.kill(pid, signal.SIGKILL)


def start_pair(deployer: RuncDeployer, images: Images) -> tuple[StartedInstance, StartedInstance]:
    """blue (the image's own Cmd) in slot 0; green (the deployer's command) in slot 1."""
    blue = deployer.start(images.blue, "pw-blue-0", 0)
    green = RuncDeployer(
        deployer.state_dir, base_port=deployer.base_port, command=HTTPD_COMMAND,
        stop_timeout=deployer.stop_timeout,
    ).start(images.green, "pw-green-1", 1)  # fmt: skip
    wait_healthy(blue.address, "hello blue")
    wait_healthy(green.address, "hello green")
    return blue, green


def test_runc_instances_serve_image_cmd_and_command(deployer: RuncDeployer, images: Images) -> None:
    blue, green = start_pair(deployer, images)

    assert blue == StartedInstance("pw-blue-0", f"127.0.0.1:{deployer.base_port}", "pw-blue-0")
    assert green.address == f"127.0.0.1:{deployer.base_port + 1}"
    assert get(blue.address) == "hello blue"
    assert get(green.address) == "hello green"
    assert deployer.running() == ["pw-blue-0", "pw-green-1"]
    config = json.loads((deployer.bundle("pw-green-1") / "config.json").read_text())
    assert config["hostname"] == "pw-green-1"
    assert config["process"]["terminal"] is False
    assert config["process"]["args"] == [
        "/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{deployer.base_port + 1}",
        "-h", "/srv/www",
    ]  # fmt: skip
    assert "PATCHWARDEN_INSTANCE=pw-green-1" in config["process"]["env"]
    assert "network" not in {ns["type"] for ns in config["linux"]["namespaces"]}
    assert config["linux"]["cgroupsPath"] == deployer.cgroup("pw-green-1")
    assert config["linux"]["cgroupsPath"].startswith("/patchwarden/")

    # a leftover of the same name is replaced, not an error
    again = deployer.start(images.blue, "pw-blue-0", 0)
    wait_healthy(again.address, "hello blue")

    deployer.stop(blue)
    assert deployer.running() == ["pw-green-1"]
    assert not deployer.bundle("pw-blue-0").exists()
    deployer.stop(blue)  # idempotent
    deployer.stop(StartedInstance("pw-never", "127.0.0.1:1", "pw-never"))
    deployer.stop(green)
    assert deployer.running() == []


def test_runc_pulls_an_image_built_elsewhere_from_its_registry(
    deployer: RuncDeployer, images: Images, tmp_path: Path
) -> None:
    from registry_fixture import run_registry

    with run_registry(tmp_path / "registry") as registry:
        destination = f"{registry.address}/fleet/web"
        image = images.green
        pushed = push(
            Path(image.layout), image.version.tag, destination, tags=["1.0.0-2"], tls_verify=False
        )
        elsewhere = replace(
            image,
            layout=str(tmp_path / "on-the-builder"),
            distributed=(Distributed(destination, ("1.0.0-2",), pushed.digest, False),),
        )
        started = deployer.start(elsewhere, "pw-pulled-0", 0)
        wait_healthy(started.address, "hello green")
        deployer.stop(started)
    never_pushed = replace(images.blue, layout=str(tmp_path / "nowhere"), digest="sha256:0")
    with pytest.raises(AdapterError, match="never pushed to a registry"):
        deployer.start(never_pushed, "pw-lost-0", 0)


def test_runc_start_failure_quotes_the_log(deployer: RuncDeployer, images: Images) -> None:
    broken = RuncDeployer(deployer.state_dir, base_port=deployer.base_port, command=["/nope"])

    with pytest.raises(AdapterError, match=r"pw-broken did not start .*nope"):
        broken.start(images.blue, "pw-broken", 0)
    assert "pw-broken" not in deployer.running()


def test_nginx_routes_by_weight_without_failed_requests(
    deployer: RuncDeployer, router: NginxRouter, images: Images
) -> None:
    blue, green = start_pair(deployer, images)
    endpoint = router.endpoint()

    router.route([(blue.address, 1)])
    assert router.running()
    assert {get(endpoint) for _ in range(10)} == {"hello blue"}

    failures: list[str] = []
    served = [0]
    done = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            try:
                body = get(endpoint)
                if body not in ("hello blue", "hello green"):
                    failures.append(body)
                served[0] += 1
            except OSError as exc:
                failures.append(str(exc))

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        router.route([(blue.address, 1), (green.address, 1)])
        assert {get(endpoint) for _ in range(40)} == {"hello blue", "hello green"}
        router.route([(green.address, 1)])
        assert {get(endpoint) for _ in range(10)} == {"hello green"}
        router.route([(green.address, 3), (blue.address, 1)])
        router.route([(green.address, 1)])
    finally:
        done.set()
        thread.join(timeout=10)
    assert failures == []
    assert served[0] > 20
    assert get(endpoint, "/__patchwarden/generation") == "5"

    # another router on the same state continues the count
    NginxRouter(router.state_dir, endpoint).route([(blue.address, 1)])
    assert get(endpoint, "/__patchwarden/generation") == "6"
    assert get(endpoint) == "hello blue"

    router.stop()
    assert not router.running()
    router.stop()  # idempotent


def test_bad_route_keeps_the_running_config(
    deployer: RuncDeployer, router: NginxRouter, images: Images
) -> None:
    blue = deployer.start(images.blue, "pw-blue-0", 0)
    wait_healthy(blue.address, "hello blue")
    router.route([(blue.address, 1)])
    config = router.config_path.read_text()

    with pytest.raises(InputError):
        router.route([])
    with pytest.raises(InputError):
        router.route([(blue.address, 0)])
    with pytest.raises(AdapterError, match=r"nginx rejected the new config.*invalid port"):
        router.route([("127.0.0.1:0", 1)])

    assert router.config_path.read_text() == config
    assert get(router.endpoint()) == "hello blue"
    assert get(router.endpoint(), "/__patchwarden/generation") == "1"


def test_probes(deployer: RuncDeployer, images: Images) -> None:
    blue = deployer.start(images.blue, "pw-blue-0", 0)
    wait_healthy(blue.address, "hello blue")
    check = [
        sys.executable, "-c",
        "import sys, urllib.request; urllib.request.urlopen(f'http://{host}:{port}/', timeout=2)",
    ]  # fmt: skip

    assert HttpProbe(expect_body="hello")(blue.address).healthy
    assert HttpProbe(expect_body="goodbye")(blue.address).detail == "body lacks 'goodbye'"
    assert HttpProbe("/missing.html")(blue.address).detail == "HTTP 404"
    assert CommandProbe(check, timeout=10)(blue.address).healthy
    assert CommandProbe(["sh", "-c", "echo no >&2; exit 4"])(blue.address).detail == "exit 4: no"

    deployer.stop(blue)

    assert HttpProbe()(blue.address).detail == "connection refused"
    down = CommandProbe(check, timeout=10)(blue.address)
    assert not down.healthy
    assert down.detail.startswith("exit 1: ") and "refused" in down.detail


def test_http_probe_times_out() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # accepts the connection, never answers
        address = f"127.0.0.1:{server.getsockname()[1]}"
        assert HttpProbe(timeout=0.3)(address).detail == "timed out after 0.3s"


@pytest.fixture
def hook_env(tmp_path: Path, images: Images) -> Iterator[dict[str, str]]:
    env = {"HOOK_STATE_DIR": str(tmp_path / "hooks"), "HOOK_BASE_PORT": str(free_ports(2)[0])}
    try:
        yield env
    finally:
        for pid_file in (tmp_path / "hooks").glob("*/pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_command_deployer_with_the_example_hooks(hook_env: dict[str, str], images: Images) -> None:
    image = replace(
        images.green, distributed=(Distributed("localhost:5000/web", ("1.0.0-2",), "sha256:x"),)
    )
    deployer = CommandDeployer(
        [str(HOOKS / "start-process.py")], [str(HOOKS / "stop-process.py")], env=hook_env
    )
    port = int(hook_env["HOOK_BASE_PORT"]) + 1

    started = deployer.start(image, "hook-green-1", 1)

    assert started == StartedInstance("hook-green-1", f"127.0.0.1:{port}", "")
    assert get(started.address) == "hello green"
    assert HttpProbe(expect_body="green")(started.address).healthy
    deployer.stop(started)
    assert HttpProbe()(started.address).detail == "connection refused"
    assert not (Path(hook_env["HOOK_STATE_DIR"]) / "hook-green-1").exists()
    deployer.stop(started)  # already gone: not an error


def test_command_hook_environment_and_failures(tmp_path: Path, images: Images) -> None:
    dump = tmp_path / "env.json"
    script = (
        "import json, os, sys; "
        f"json.dump({{k: v for k, v in os.environ.items() if k.startswith('PATCHWARDEN')}}, "
        f"open({str(dump)!r}, 'w')); "
        "print('starting…'); print(); print('10.0.0.7:8080 handle-' + sys.argv[1]); print()"
    )
    pushed = Distributed("localhost:5000/web", ("1.0.0-1", "latest"), "sha256:x")
    image = replace(images.blue, distributed=(pushed,))
    dump_env = f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"
    deployer = CommandDeployer(
        [sys.executable, "-c", script, "{instance}-{slot}"],
        [sys.executable, "-c", dump_env],
    )  # fmt: skip

    started = deployer.start(image, "web-blue-0", 3)

    assert started == StartedInstance("web-blue-0", "10.0.0.7:8080", "handle-web-blue-0-3")
    got = json.loads(dump.read_text())
    assert "PATCHWARDEN_ADDRESS" not in got
    assert {key: got.get(key) for key in START_VARIABLES} == {
        "PATCHWARDEN_INSTANCE": "web-blue-0",
        "PATCHWARDEN_SLOT": "3",
        "PATCHWARDEN_IMAGE": "web",
        "PATCHWARDEN_IMAGE_VERSION": "1.0.0/1",
        "PATCHWARDEN_IMAGE_TAG": "1.0.0-1",
        "PATCHWARDEN_IMAGE_DIGEST": images.blue.digest,
        "PATCHWARDEN_IMAGE_LAYOUT": images.blue.layout,
        "PATCHWARDEN_IMAGE_REFERENCES": "localhost:5000/web:1.0.0-1 localhost:5000/web:latest",
    }
    deployer.stop(started)
    stop_env = json.loads(dump.read_text())
    assert stop_env["PATCHWARDEN_ADDRESS"] == "10.0.0.7:8080"
    assert stop_env["PATCHWARDEN_HANDLE"] == "handle-web-blue-0-3"

    failing = CommandDeployer(
        ["sh", "-c", "echo first >&2; echo 'no capacity' >&2; exit 2"], ["true"]
    )
    with pytest.raises(AdapterError, match=r"start hook for x exited with 2: no capacity"):
        failing.start(image, "x", 0)
    silent = CommandDeployer(["sh", "-c", "echo not-an-address"], ["true"])
    with pytest.raises(AdapterError, match=r"last line must be host:port"):
        silent.start(image, "x", 0)
    slow = CommandDeployer(["sleep", "30"], ["true"], timeout=0.5)
    began = time.monotonic()
    with pytest.raises(AdapterError, match=r"timed out after 0.5 s"):
        slow.start(image, "x", 0)
    assert time.monotonic() - began < 10


def test_command_router_passes_weights_as_json(tmp_path: Path) -> None:
    out = tmp_path / "route.json"
    hook = tmp_path / "route-hook.py"
    hook.write_text(
        "import json, os, sys\n"
        "weights = json.load(sys.stdin)\n"
        f"json.dump({{'endpoint': os.environ['PATCHWARDEN_ENDPOINT'], 'arg': sys.argv[1],"
        f" 'weights': weights}}, open({str(out)!r}, 'w'))\n"
    )
    router = CommandRouter([sys.executable, str(hook), "{endpoint}"], "lb.example:443")

    router.route([("127.0.0.1:18081", 9), ("127.0.0.1:18082", 1)])

    assert router.endpoint() == "lb.example:443"
    assert json.loads(out.read_text()) == {
        "endpoint": "lb.example:443",
        "arg": "lb.example:443",
        "weights": [
            {"address": "127.0.0.1:18081", "weight": 9},
            {"address": "127.0.0.1:18082", "weight": 1},
        ],
    }
    with pytest.raises(InputError):
        router.route([])
    with pytest.raises(AdapterError, match="route hook exited with 1: lb busy"):
        CommandRouter(["sh", "-c", "cat >/dev/null; echo 'lb busy' >&2; exit 1"], "x:1").route(
            [("127.0.0.1:1", 1)]
        )
