"""Deployments in the server process: the same use case as ``patchwarden deploy``
(:mod:`patchwarden.pipeline.deploy`), its runs carried out on background threads.

``start`` checks and records the run (``Created``) in the request, then a thread carries
it out; every step is stored as it happens, so the API shows the run's progress.  The
deployment group's plugins run on the server's host (runc and nginx there, or command hooks
towards an orchestrator); an image a builder node built is pulled from the registry it was
pushed to.  A run whose server process died stays in progress until ``rollback`` — which
then rolls it back itself — or until the next start on that group is refused with the
hint.

A Deployment of hosts (``deploymentGroup.hosts``: two patch groups behind the router) is
run by :mod:`patchwarden.pipeline.host_rollout` over the server's own fleet
(:class:`~patchwarden.server.host_fleet.ServerFleet`), on a background thread the same way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from patchwarden.adapters.clock import WALL
from patchwarden.adapters.deployers.plugins import (
    owner_alive,
    owner_here,
    plugins_for,
    probe_of,
    router_of,
)
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.deployments import SqlDeploymentStore, SqlImages
from patchwarden.adapters.storage.images import SqlImageDocuments
from patchwarden.core.deploy.model import Deployment, DeploymentRun
from patchwarden.core.imagebuild import ImageRecord
from patchwarden.documents import parse_documents
from patchwarden.documents.deployment import KIND, DeploymentDocument
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.deploy import (
    DeployDeps,
    DeployOptions,
    RollbackResult,
    carry_out,
    prepare,
    roll_back,
)
from patchwarden.pipeline.host_rollout import (
    HostDeps,
    carry_out_hosts,
    prepare_hosts,
    roll_back_hosts,
)
from patchwarden.server.db import Database
from patchwarden.server.host_fleet import ServerFleet
from patchwarden.server.settings import ServerSettings

log = logging.getLogger(__name__)


class NoSuchDeployment(InputError):
    """No Deployment of that name was applied."""


def stored_deployment(db: Database, name: str) -> Deployment:
    """The ``Deployment`` ``name`` as ``apply`` stored it."""
    with db.read() as session:
        raw = SqlImageDocuments(session).get(KIND, name)
    if raw is None:
        raise NoSuchDeployment(
            f"no Deployment named {name!r} (patchwarden apply -f FILE stores one)"
        )
    (document,) = parse_documents(json.dumps(raw), f"{name}.json")
    assert isinstance(document, DeploymentDocument)
    return document.deployment


@dataclass
class Deployments:
    """The server's deployments: wiring, and the threads of the runs in progress."""

    db: Database
    settings: ServerSettings
    threads: dict[str, threading.Thread] = field(default_factory=dict)

    def deps(self, deployment: Deployment) -> DeployDeps:
        """The use case's dependencies for ``deployment``'s group."""
        import time

        plugins = plugins_for(deployment, self.settings.data_dir / "deployments" / "groups")
        return DeployDeps(
            images=SqlImages(self.db.read),
            store=SqlDeploymentStore(self.db.write, self.db.read),
            deployer=plugins.deployer,
            router=plugins.router,
            probe=plugins.probe,
            clock=WALL.now,  # a run waits in real time: its clock must be the one sleep follows
            sleep=time.sleep,
            progress=lambda line: log.info("deployment %s: %s", deployment.name, line),
            stale=self.stale,
            owner=owner_here("server"),
            alive=owner_alive,
        )

    def host_deps(self, deployment: Deployment) -> HostDeps:
        """The host use case's dependencies for ``deployment``'s patch groups."""
        import time

        assert deployment.group.hosts is not None
        state = self.settings.data_dir / "deployments" / "groups" / deployment.group.name
        return HostDeps(
            fleet=ServerFleet(
                self.db,
                deployment.group.hosts.address_tag,
                self.settings.clock.now,
                f"deployment {deployment.name}",
            ),
            store=SqlDeploymentStore(self.db.write, self.db.read),
            router=router_of(deployment.group.router, state),
            probe=probe_of(deployment.health),
            clock=WALL.now,
            sleep=time.sleep,
            progress=lambda line: log.info("deployment %s: %s", deployment.name, line),
            owner=owner_here("server"),
            alive=owner_alive,
            poll=1.0,
        )

    def stale(self, image: ImageRecord) -> list[str]:
        """Why ``image`` is stale: a newer parent (by its recipe's selector), a fix in the
        server's vulnerability database.  (The server does not read mirrors.)"""
        from patchwarden.adapters.storage.images import SqlImageCatalog
        from patchwarden.server.images import judging

        with self.db.read() as session:
            records = SqlImageCatalog(session).images()
            with judging(records, session, self.settings) as judge:
                return [reason.text for reason in judge(image).reasons]

    def _audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        with self.db.write() as session, session.begin():
            SqlAuditLog(session).record(actor, action, target, self.settings.clock.now(), details)

    def start(self, name: str, options: DeployOptions, *, wait: bool = False) -> DeploymentRun:
        """Record a run of Deployment ``name`` and carry it out on a thread (``wait``: in
        this one); the run as recorded so far."""
        deployment = stored_deployment(self.db, name)
        if deployment.group.hosts is not None:
            return self._start_hosts(deployment, options, wait=wait)
        deps = self.deps(deployment)
        run = prepare(deployment, deps, options)
        self._audit(
            options.actor or "scheduler",
            "deployment.start",
            name,
            {"run": run.id, "image": run.image, "trigger": run.trigger},
        )

        return self._carry(name, run, lambda: carry_out(deployment, deps, run), wait=wait)

    def _start_hosts(
        self, deployment: Deployment, options: DeployOptions, *, wait: bool
    ) -> DeploymentRun:
        deps = self.host_deps(deployment)
        run = prepare_hosts(deployment, deps, options)
        self._audit(
            options.actor or "scheduler",
            "deployment.start",
            deployment.name,
            {"run": run.id, "image": run.image, "trigger": run.trigger},
        )
        return self._carry(
            deployment.name, run, lambda: carry_out_hosts(deployment, deps, run), wait=wait
        )

    def _carry(
        self, name: str, run: DeploymentRun, body: Callable[[], DeploymentRun], *, wait: bool
    ) -> DeploymentRun:
        """Carry ``run`` out with ``body`` on a thread (``wait``: in this one)."""
        store = SqlDeploymentStore(self.db.write, self.db.read)

        def work() -> None:
            try:
                done = body()
            except Exception:  # a defect: the run recorded its end; say so and keep serving
                log.exception("deployment %s run %s", name, run.id)
                return
            finally:
                self.threads.pop(run.id, None)
            self._audit(
                "scheduler",
                "deployment.finish",
                name,
                {"run": done.id, "status": done.status.value, "reason": done.reason},
            )

        if wait:
            work()
            return store.get(run.id) or run
        thread = threading.Thread(target=work, name=f"deployment-{run.id}", daemon=True)
        self.threads[run.id] = thread
        thread.start()
        return run

    def promote(self, name: str, image: str) -> None:
        """Automatic promotion: roll ``image`` (``name x.y.z/build``) out with Deployment
        ``name`` because its pipeline names it; a refusal (another run in progress, the
        Deployment missing, the image already serving) is logged and audited, not raised."""
        options = DeployOptions(image=image, trigger=f"promotion of {image}", actor="scheduler")
        try:
            self.start(name, options)
        except PatchwardenError as exc:
            log.warning("promotion of %s by deployment %s: %s", image, name, exc)
            self._audit("scheduler", "deployment.skip", name, {"image": image, "reason": str(exc)})

    def rollback(self, name: str, actor: str) -> RollbackResult:
        """``deploy rollback``: stop the group's run in progress, or redeploy the previous
        image (here, in the request: a redeploy is a whole run)."""
        deployment = stored_deployment(self.db, name)
        if deployment.group.hosts is not None:
            result = roll_back_hosts(deployment, self.host_deps(deployment), actor=actor)
        else:
            result = roll_back(deployment, self.deps(deployment), actor=actor)
        self._audit(
            actor, "deployment.rollback", name, {"action": result.action, "run": result.run.id}
        )
        return result

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs in progress (tests, shutdown)."""
        for thread in list(self.threads.values()):
            thread.join(timeout)
