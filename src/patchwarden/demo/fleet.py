"""The demo fleet, start to finish: packages and roots, the server, the agents, the seed,
and the wait until the server shows all of it."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.demo import packages, roots, seed
from patchwarden.demo.processes import (
    AgentProcess,
    ServerProcess,
    free_port,
    port_free,
    register_agent,
)
from patchwarden.errors import EnvironmentProblem, InputError

TOOLS = {"dpkg-deb": "dpkg", "apt-get": "apt", "apt-ftparchive": "apt-utils"}
"""What the demo runs → the Debian package that ships it."""
DEFAULT_PORT = 8080
MAX_NODES = 16
PATIENCE = 120.0
"""Upper bound of each wait (a guard against hanging, never reached on a healthy machine)."""
INTERVALS = {
    "PATCHWARDEN_SCHEDULER_INTERVAL": "2",
    "PATCHWARDEN_GOVERNANCE_INTERVAL": "2",
    "PATCHWARDEN_ASSESS_INTERVAL": "1",
}
"""The server's background loops, quicker than their defaults so things happen at once."""

Progress = Callable[[str], None]


def missing_tools(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The tools of :data:`TOOLS` that are not on the PATH."""
    return [tool for tool in TOOLS if which(tool) is None]


def check_tools(which: Callable[[str], str | None] = shutil.which) -> None:
    """One line saying what to install when a tool is missing (exit 3)."""
    missing = missing_tools(which)
    if missing:
        debs = " ".join(sorted({TOOLS[t] for t in missing}))
        raise EnvironmentProblem(
            f"patchwarden demo needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: sudo apt-get install {debs}"
        )


def choose_port(requested: int | None) -> int:
    """``requested`` when it is free (else one line, exit 3); without it 8080 when free,
    else any free port."""
    if requested is not None:
        if not 1 <= requested <= 65535:
            raise InputError(f"--port {requested}: a port between 1 and 65535")
        if not port_free(requested):
            raise EnvironmentProblem(
                f"port {requested} on 127.0.0.1 is in use: choose another with --port N "
                "(or leave --port out for a free one)"
            )
        return requested
    return DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port()


@dataclass(frozen=True)
class NodePlan:
    """One demo node: its name, tags, installed packages and the compliance it must show."""

    name: str
    tags: dict[str, str]
    installed: dict[str, str]
    expected: str
    story: str


def plan_nodes(count: int) -> list[NodePlan]:
    """``count`` nodes cycling through four profiles: a web node missing every update, a
    db node missing only a bug-fix update (COMPLIANT: its baseline approves security
    updates only), a fully patched web node in ``env=staging``, a db node missing its
    security updates."""
    if not 2 <= count <= MAX_NODES:
        raise InputError(f"--nodes {count}: between 2 and {MAX_NODES}")
    old, new = packages.oldest(), packages.newest()
    role_package = {"web": "webapp", "db": "demodb"}
    profiles = [
        ("web", "prod", "old", "NON_COMPLIANT", "misses security and bug-fix updates"),
        ("db", "prod", "secure", "COMPLIANT", "security updates in; a bug-fix update pending"),
        ("web", "staging", "new", "COMPLIANT", "fully patched"),
        ("db", "prod", "old", "NON_COMPLIANT", "misses its security updates"),
    ]
    plans, numbers = [], dict.fromkeys(role_package, 0)
    for index in range(count):
        group, env, level, expected, story = profiles[index % len(profiles)]
        numbers[group] += 1
        wanted = ("libdemo1", "demo-tools", role_package[group])
        if level == "old":
            installed = {p: old[p] for p in wanted}
        elif level == "secure":
            installed = {p: new[p] for p in wanted} | {"demo-tools": old["demo-tools"]}
        else:
            installed = {p: new[p] for p in wanted}
        tags = {"Patch Group": group, "env": env, "Role": group}
        plans.append(NodePlan(f"{group}-{numbers[group]}", tags, installed, expected, story))
    return plans


@dataclass(frozen=True)
class Ready:
    """The running demo, as the command prints it."""

    url: str
    admin_token: str
    operator_token: str
    directory: Path
    kept: bool
    """``--dir`` was given: the directory stays after the demo."""
    seconds: float
    plans: list[NodePlan]
    node_ids: dict[str, str]
    """Node name → node id."""
    snapshot: seed.Snapshot


@dataclass
class Demo:
    """The demo's directory and child processes; :meth:`close` stops them all and removes
    the directory (unless ``--dir`` chose it)."""

    nodes: int
    port: int | None = None
    directory: Path | None = None
    progress: Progress = lambda _message: None
    server: ServerProcess | None = field(init=False, default=None)
    agents: list[AgentProcess] = field(init=False, default_factory=list)
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.plans = plan_nodes(self.nodes)
        self.chosen_port = choose_port(self.port)
        try:
            if self.directory is None:
                self.path = Path(tempfile.mkdtemp(prefix="patchwarden-demo-"))
                return
            self.path = self.directory.resolve()
            if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
                raise InputError(f"--dir {self.directory}: choose a new or empty directory")
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot make the demo's directory: {exc}") from None

    def start(self) -> Ready:
        """Build, start and seed everything; return once the server shows it all."""
        began = time.monotonic()
        logs = self.path / "logs"
        logs.mkdir()
        home = self.path / "server"
        home.mkdir(mode=0o700)
        self.progress(f"starting the server on 127.0.0.1:{self.chosen_port}")
        self.server = ServerProcess(home, self.chosen_port, logs / "server.log", INTERVALS)
        with ThreadPoolExecutor(max_workers=4) as pool:
            self.progress("building the demo packages and the apt repository")
            repo = packages.build_repo(self.path / "repo", roots.host_arch())
            made = {
                plan.name: pool.submit(
                    roots.make_root,
                    self.path / "roots" / plan.name,
                    plan.name,
                    repo,
                    plan.installed,
                )
                for plan in self.plans
            }
            self.progress(f"installing {len(self.plans)} sandbox roots with apt")
            self._import_vulnerabilities(home / "vulndb.sqlite")
            initial = self.server.wait_ready(60)
            api = seed.Api(self.server.url, initial)
            try:
                roots_made = {name: f.result() for name, f in made.items()}
                return self._seed(api, initial, pool, roots_made, began)
            finally:
                api.close()

    def _import_vulnerabilities(self, database: Path) -> None:
        """The demo feed into the server's vulnerability database (``db import``)."""
        from patchwarden.adapters.feeds import FEEDS, classify
        from patchwarden.adapters.vulndb import SqliteVulnDb
        from patchwarden.pipeline import dbupdate

        feed = packages.write_tracker_feed(self.path / "debian-tracker.json")
        now = datetime.now(UTC)
        dbupdate.import_path(
            SqliteVulnDb(database), feed, FEEDS, classify, now, feed="debian-tracker"
        )

    def _seed(
        self,
        api: seed.Api,
        initial: str,
        pool: ThreadPoolExecutor,
        made: Mapping[str, Path],
        began: float,
    ) -> Ready:
        assert self.server is not None
        url = self.server.url
        self.progress("creating tokens, baselines, patch groups, the window and the pack")
        admin_token, operator_token = seed.create_tokens(api, initial)
        seed.seed_documents(api, seed.first_window_run(datetime.now(UTC)))
        activation = seed.create_activation(api, len(self.plans))
        self.progress(f"registering {len(self.plans)} nodes and starting their agents")
        agents_dir = self.path / "agents"

        def register(plan: NodePlan) -> str:
            return register_agent(
                url,
                activation,
                agents_dir / plan.name,
                made[plan.name],
                plan.name,
                plan.tags,
            )

        node_ids = dict(
            zip((p.name for p in self.plans), pool.map(register, self.plans), strict=True)
        )
        for plan in self.plans:
            log = self.path / "logs" / f"agent-{plan.name}.log"
            self.agents.append(AgentProcess(agents_dir / plan.name, log))
        seed.wait_for(
            "every node's first inventory",
            lambda: (
                self._running()
                and all(api.call("GET", f"/api/v1/nodes/{i}/inventory") for i in node_ids.values())
            ),
            PATIENCE,
        )
        self.progress("scanning the fleet (AWS-RunPatchBaseline, Operation=Scan)")
        seed.scan_fleet(api, PATIENCE)
        seed.evaluate_rules(api)
        expected = {node_ids[p.name]: p.expected for p in self.plans}
        self.progress("waiting for compliance, findings and the conformance score")

        missing: list[str] = []

        def populated() -> seed.Snapshot | None:
            self._running()
            found = seed.snapshot(api)
            missing[:] = found.problems(expected)
            return None if missing else found

        snapshot = seed.wait_for(
            "the fleet to be populated", populated, PATIENCE, lambda: "; ".join(missing)
        )
        return Ready(
            url,
            admin_token,
            operator_token,
            self.path,
            self.directory is not None,
            time.monotonic() - began,
            self.plans,
            node_ids,
            snapshot,
        )

    def _running(self) -> bool:
        """True while the server and every agent run; a one-line error when one stopped."""
        for child in [*self.agents, *([self.server] if self.server else [])]:
            if not child.alive():
                raise EnvironmentProblem(
                    f"{child.log.stem} stopped (exit status {child.proc.returncode}): "
                    f"{child.last_line()}"
                )
        return True

    def wait(self) -> None:
        """Block while the server and the agents run (a signal ends it: the caller's
        handler raises)."""
        while self._running():
            time.sleep(1)

    def close(self) -> None:
        """Stop the agents, then the server; remove the directory unless ``--dir`` chose it."""
        for agent in self.agents:
            agent.terminate()
        for agent in self.agents:
            agent.stop()
        if self.server is not None:
            self.server.stop()
        if self.directory is None:
            shutil.rmtree(self.path, ignore_errors=True)
