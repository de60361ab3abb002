"""``create_app(settings)``: the FastAPI application of the fleet server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from patchwarden import __version__, rule_plugins
from patchwarden.adapters.storage import dispatch, make_engine, tokens, upgrade
from patchwarden.core.events import server_started
from patchwarden.server import (
    apidocs,
    audit,
    compliance_history,
    errors,
    governance,
    images,
    metrics,
    notifications,
    openapi,
    vulndb_updates,
    vulns,
    web,
)
from patchwarden.server.aws_api.endpoint import router as aws_router
from patchwarden.server.db import Database, Session
from patchwarden.server.fleet import node_files
from patchwarden.server.fleet.agent_update import open_bundles
from patchwarden.server.fleet.fastpoll import FastPoll
from patchwarden.server.fleet.nodecache import CHECKIN_SECONDS, NodeCache
from patchwarden.server.fleet.polling import Polling
from patchwarden.server.limits import EdgeLimits
from patchwarden.server.routes import ROUTERS
from patchwarden.server.routes import metrics as metrics_routes
from patchwarden.server.routes.agent_bundle import router as agent_bundle_router
from patchwarden.server.routes.conformance import router as conformance_router
from patchwarden.server.routes.governance import router as governance_router
from patchwarden.server.routes.notifications import router as notifications_router
from patchwarden.server.routes.remediations import router as remediations_router
from patchwarden.server.routes.windows import router as windows_router
from patchwarden.server.settings import ServerSettings
from patchwarden.server.windows import scheduler

log = logging.getLogger("patchwarden.server")
BOOTSTRAP_TOKEN_NAME = "initial-admin"
NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)
"""FastAPI's own OpenTelemetry instrumentation (FastAPI 0.16x) off: the server exports
Prometheus metrics (/metrics), and the check whether a tracer is configured read the
environment on every request — a sixth of the event loop's time under 10,000 polling
nodes."""
SWEEP_SECONDS = 5.0
"""How often each replica applies timeouts to commands nobody is polling for."""


def bootstrap_admin(db: Database, settings: ServerSettings) -> str | None:
    """On first start (no token at all), create the ``initial-admin`` token and return its
    value (shown once); ``None`` when tokens exist (one replica wins when several start)."""
    at = settings.clock.now()

    def audited(session: Session, ident: str, name: str) -> None:
        audit.record(session, "system", "token.create", ident, at, {"name": name})

    return tokens.bootstrap_admin(db.write, BOOTSTRAP_TOKEN_NAME, at, audited)


def sweep(db: Database, settings: ServerSettings) -> int:
    """Apply timeouts and roll up every active command once."""
    with db.write() as session, session.begin():
        return dispatch.refresh_active(session, settings.clock.now())


async def _sweeper(db: Database, settings: ServerSettings) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await run_in_threadpool(sweep, db, settings)
        except Exception:  # a failed sweep is retried at the next tick
            log.exception("command sweep failed")


async def _checkin_writer(nodes: NodeCache) -> None:
    while True:
        await asyncio.sleep(CHECKIN_SECONDS)
        try:
            await run_in_threadpool(nodes.flush_checkins)
        except Exception:  # kept and written with the next batch
            log.exception("writing check-ins failed")


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The application over ``settings.database_url`` (migrated first unless told not to)."""
    conf = settings or ServerSettings()
    engine = make_engine(conf.database_url)
    if conf.migrate:
        upgrade(engine)
    db = Database.open(engine)
    polls = Polling.start(db, conf)
    observed = metrics.Observed.create(db, conf)  # this app's own Prometheus registry
    rule_plugins.load_custom_rule_types()  # custom rule types, explicitly, once

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_sweeper(db, conf)),
            asyncio.create_task(_checkin_writer(polls.nodes)),
        ]
        every = conf.intervals
        if every.scheduler > 0:  # the maintenance-window scheduler (0: tests drive the tick)
            beat = observed.scheduler  # its last round, for /metrics
            tasks.append(asyncio.create_task(scheduler.loop(db, conf, every.scheduler, beat)))
        if every.assess > 0:  # vulnerability assessment (0: tests call assess_pending)
            tasks.append(asyncio.create_task(vulns.loop(db, conf, every.assess)))
        if every.governance > 0:  # rules, remediation, runbooks (0: tests drive the tick)
            tasks.append(asyncio.create_task(governance.loop(db, conf, every.governance)))
        if every.history > 0:  # today's compliance counts, for the console's trend
            tasks.append(asyncio.create_task(compliance_history.loop(db, conf, every.history)))
        if every.prune > 0:  # the node components' files nobody uses any more
            tasks.append(asyncio.create_task(node_files.loop(db, conf, every.prune)))
        if every.images > 0:  # image pipelines' schedules, lifecycle policies, rescans
            tasks.append(asyncio.create_task(images.loop(db, conf, every.images)))
        if every.notify > 0:  # application events to the admin's notification targets
            tasks.append(asyncio.create_task(notifications.loop(db, conf, every.notify)))
        if conf.db_updates.every > 0:  # the server's own db update (off unless configured)
            updates = vulndb_updates.loop(db, conf, conf.db_updates.every)
            tasks.append(asyncio.create_task(updates))
        started = server_started(conf.clock.now(), __version__, conf.replica_id)
        await run_in_threadpool(notifications.emit, db, started)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):  # the last check-ins, best effort
                await run_in_threadpool(polls.nodes.flush_checkins)
            polls.reader.close()
            engine.dispose()

    app = FastAPI(
        title="Patchwarden",
        version=__version__,
        description="Fleet patch management with AWS SSM semantics.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: apidocs.install, served without a CDN
        redoc_url=None,
        **NO_TELEMETRY,
    )
    app.state.db = db
    app.state.settings = conf
    app.state.polling = polls
    app.state.metrics = observed
    app.state.bundles = open_bundles(conf.data_dir / "bundles")  # the node bundles it serves
    errors.install(app)
    openapi.install(app)  # the error statuses the routes really answer, 400 not 422
    app.add_middleware(FastPoll)  # the agents' long-poll without routing and injection
    app.add_middleware(EdgeLimits)  # sizes, NUL and nesting before anything parses a body
    app.add_middleware(metrics.PollTimer, histogram=observed.polls)  # the long-poll's time
    governance_routers = (governance_router, conformance_router, remediations_router)
    for router in (*ROUTERS, windows_router, *governance_routers):
        app.include_router(router)
    app.include_router(agent_bundle_router)  # /agent: bundles and install.sh, no credential
    app.include_router(notifications_router)  # /api/v1/events, /api/v1/notifications
    app.include_router(metrics_routes.router(conf.metrics_public))  # Prometheus
    app.include_router(aws_router)  # /aws/ssm: the AWS SSM JSON API, SigV4 (docs/aws-api.md)
    apidocs.install(app)  # /docs, /redoc and their assets, from this server
    web.install(app)  # the console at /: pages over the same reads and use cases

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers (and can reach its database)."""
        tokens.ping(db.read)
        return {"status": "ok", "version": __version__}

    return app
