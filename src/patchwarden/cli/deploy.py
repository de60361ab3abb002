"""``patchwarden deploy start|status|history|rollback`` — roll golden images out to a
deployment group on this machine (runc + nginx, or operator hooks), without a server
(docs/deployments.md).

``deploy start PATH`` reads the ``Deployment`` documents in PATH and runs one: green
instances of the newest AVAILABLE image start beside the live (blue) ones, are
health-checked, take the traffic by the strategy's waves, and blue is stopped — or, on a
failure or an alarm, traffic goes back to blue.  Exit codes: 0 Succeeded (or nothing to
do), 1 Failed or Stopped (rolled back), 2 bad input, 3 the environment.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from patchwarden.adapters.deployers.catalog import LocalDeploymentStore
    from patchwarden.core.deploy.model import Deployment, DeploymentRun
    from patchwarden.core.imagebuild import ImageRecord
    from patchwarden.pipeline.deploy import DeployDeps


def register(sub: Any) -> None:
    """Add the ``deploy`` command group."""
    deploy = sub.add_parser(
        "deploy", help="roll golden images out: blue/green, canary, linear, rollback"
    )
    dsub = deploy.add_subparsers(dest="deploy_command", metavar="COMMAND", required=True)
    start = dsub.add_parser(
        "start",
        help="run a Deployment: start green, check it, shift traffic, stop blue",
        description="Run the Deployment document in PATH (a file or directory; with several, "
        "name one with --deployment): roll the newest AVAILABLE image of its pipeline out to "
        "its deployment group by its strategy (AllAtOnce, BlueGreen, Canary, Linear), and "
        "roll back on failure or alarm. Runs in the foreground until the deployment ends.",
    )
    start.add_argument("path", metavar="PATH", help="a Deployment document file or directory")
    start.add_argument("--deployment", metavar="NAME", help="the Deployment of PATH to run")
    start.add_argument(
        "--image",
        metavar="NAME:VERSION",
        help="roll out this image (web:1.0.0/3, web:1.x.x) instead of the newest AVAILABLE",
    )
    start.add_argument(
        "--force",
        action="store_true",
        help="roll out even a stale image, or the image that already serves",
    )
    _output_options(start)
    start.set_defaults(handler=_start)

    status = dsub.add_parser("status", help="what each deployment group serves now")
    status.add_argument("name", nargs="?", metavar="NAME", help="one Deployment")
    status.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    status.set_defaults(handler=_status)

    history = dsub.add_parser(
        "history", help="the runs of a deployment, or the events of one run (d-…)"
    )
    history.add_argument("name", nargs="?", metavar="NAME|ID", help="a Deployment or a run id")
    history.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    history.set_defaults(handler=_history)

    back = dsub.add_parser(
        "rollback",
        help="traffic back to blue: stop the running deployment, or redeploy the image "
        "before the last one",
        description="Roll a Deployment back: a run in progress stops and sends traffic back "
        "to blue (its owner does it, or this command when the owner is gone); with none in "
        "progress, the image the last successful run replaced is deployed again.",
    )
    back.add_argument("name", metavar="NAME", help="the Deployment (as last started here)")
    _output_options(back)
    back.set_defaults(handler=_rollback)


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )


def _store() -> LocalDeploymentStore:
    from patchwarden import settings
    from patchwarden.adapters.deployers.catalog import LocalDeploymentStore

    return LocalDeploymentStore(settings.deployments_dir() / "deployments.db")


def _deps(
    deployment: Deployment,
    store: LocalDeploymentStore,
    quiet: bool,
    stale: Callable[[ImageRecord], Sequence[str]],
) -> DeployDeps:
    import time

    from patchwarden import settings
    from patchwarden.adapters.deployers.plugins import owner_alive, owner_here, plugins_for
    from patchwarden.cli.common import image_store, now
    from patchwarden.pipeline.deploy import DeployDeps

    plugins = plugins_for(deployment, settings.deployments_dir() / "groups")

    def progress(line: str) -> None:
        if not quiet:
            sys.stderr.write(f"{deployment.name}: {line}\n")
            sys.stderr.flush()

    return DeployDeps(
        images=image_store().catalog,
        store=store,
        deployer=plugins.deployer,
        router=plugins.router,
        probe=plugins.probe,
        clock=now,
        sleep=time.sleep,
        progress=progress,
        stale=stale,
        owner=owner_here(),
        alive=owner_alive,
    )


@contextmanager
def _stale_check(path: str | None) -> Iterator[Callable[[ImageRecord], Sequence[str]]]:
    """Why an image is stale: a newer parent, a newer package in its recipe's mirrors (when
    PATH holds the recipes), a fix in the local vulnerability database."""
    from pathlib import Path

    from patchwarden.cli.common import image_store
    from patchwarden.cli.image_tree import judging
    from patchwarden.documents.image import load_image_documents
    from patchwarden.errors import InputError

    documents = None
    if path is not None:
        try:
            documents = load_image_documents(Path(path))
        except InputError:
            documents = None  # PATH holds Deployments only: no recipes to read mirrors from
    with judging(image_store(), documents) as judge:

        def reasons(image: ImageRecord) -> Sequence[str]:
            found = judge(image)
            for warning in dict.fromkeys(found.warnings):
                sys.stderr.write(f"warning: {warning}\n")
            return [r.text for r in found.reasons]

        yield reasons


def promote(path: str, name: str, image: ImageRecord, *, quiet: bool) -> DeploymentRun | None:
    """Roll ``image`` out with the Deployment ``name`` of PATH (automatic promotion of a
    pipeline's image); ``None`` when it already serves."""
    from patchwarden.cli.common import actor as _actor
    from patchwarden.pipeline.deploy import AlreadyServing, DeployOptions, deploy

    deployment, raw = load_deployment(path, name)
    store = _store()
    store.remember(deployment.name, raw)
    options = DeployOptions(
        image=f"{image.name} {image.version}",
        trigger=f"promotion of {image.name} {image.version}",
        actor=_actor(),
    )
    try:
        with _stale_check(path) as stale:
            return deploy(deployment, _deps(deployment, store, quiet, stale), options)
    except AlreadyServing:
        return None


def load_deployment(path: str, name: str | None) -> tuple[Deployment, dict[str, Any]]:
    """The Deployment ``name`` of PATH (its only one without a name) and its stored form."""
    from pathlib import Path

    from patchwarden.documents import load_documents
    from patchwarden.documents.deployment import DeploymentDocument
    from patchwarden.errors import InputError

    found = [d for d in load_documents(Path(path)) if isinstance(d, DeploymentDocument)]
    if name:
        found = [d for d in found if d.name == name]
    if not found:
        raise InputError(f"{path}: no Deployment" + (f" named {name!r}" if name else "") + " in it")
    if len(found) > 1:
        names = ", ".join(d.name for d in found)
        raise InputError(f"{path}: several Deployments ({names}): name one with --deployment")
    return found[0].deployment, found[0].to_json()


def _remembered(store: LocalDeploymentStore, name: str) -> Deployment:
    import json

    from patchwarden.documents import parse_documents
    from patchwarden.documents.deployment import DeploymentDocument
    from patchwarden.errors import InputError

    raw = store.document(name)
    if raw is None:
        known = ", ".join(d["metadata"]["name"] for d in store.documents()) or "none yet"
        raise InputError(
            f"no Deployment {name!r} was started here (started: {known}); "
            "patchwarden deploy start PATH runs one"
        )
    (document,) = parse_documents(json.dumps(raw), f"{name}.json")
    assert isinstance(document, DeploymentDocument)
    return document.deployment


def _start(args: argparse.Namespace) -> int:
    from patchwarden.cli.common import actor as _actor
    from patchwarden.pipeline.deploy import AlreadyServing, DeployOptions, deploy

    deployment, raw = load_deployment(args.path, args.deployment)
    store = _store()
    store.remember(deployment.name, raw)
    options = DeployOptions(image=args.image or "", force=args.force, actor=_actor())
    try:
        with _stale_check(args.path) as stale:
            run = deploy(deployment, _deps(deployment, store, args.quiet, stale), options)
    except AlreadyServing as exc:
        print(f"{exc}: nothing to do (--force redeploys it)")
        return 0
    return _report(run, args.format)


def _report(run: DeploymentRun, fmt: str) -> int:
    import json

    from patchwarden.adapters.deployers.catalog import run_json
    from patchwarden.core.deploy.model import DeploymentStatus

    if fmt == "json":
        sys.stdout.write(json.dumps(run_json(run), indent=2) + "\n")
    else:
        sys.stdout.write(summary(run))
    return 0 if run.status is DeploymentStatus.SUCCEEDED else 1


def summary(run: DeploymentRun) -> str:
    """A run in a few lines, and what to do next."""
    from patchwarden.cli.common import printable

    lines = [f"deployment {run.id} {run.deployment}: {run.status.value}"]
    lines.append(
        f"  image     {run.image}" + (f" (was {run.previous_image})" if run.previous_image else "")
    )
    lines.append(f"  strategy  {run.strategy.value}")
    if run.reason:
        lines.append(f"  reason    {printable(run.reason)}")
    if run.rolled_back:
        lines.append(f"  rollback  traffic back to {run.previous_image or 'nothing'}")
    serving = run.blue if run.rolled_back or not run.green else run.green
    for instance in serving:
        lines.append(f"  serving   {instance.name} {instance.address} ({instance.image})")
    lines.append(f"next: patchwarden deploy history {run.id}  (every step)")
    return "\n".join(lines) + "\n"


def _status(args: argparse.Namespace) -> int:
    import json

    from patchwarden.adapters.deployers.catalog import group_json, run_json
    from patchwarden.cli.api import print_table
    from patchwarden.pipeline.deploy import active_run

    store = _store()
    names = [args.name] if args.name else [d["metadata"]["name"] for d in store.documents()]
    rows, out = [], []
    for name in names:
        deployment = _remembered(store, name)
        group = store.group(deployment.group.name)
        running = active_run(store, group.group)
        runs = store.runs(group.group)
        out.append(
            {
                "deployment": name,
                "group": group_json(group),
                "active": run_json(running) if running else None,
                "last": run_json(runs[-1]) if runs else None,
            }
        )
        rows.append(
            {
                "deployment": name,
                "group": group.group,
                "serving": group.image or "-",
                "instances": " ".join(i.address for i in group.instances) or "-",
                "router": deployment.group.router.options.get("listen")
                or deployment.group.router.options.get("endpoint", ""),
                "last run": f"{runs[-1].id} {runs[-1].status.value}" if runs else "-",
                "now": f"{running.status.value} {running.green_percent}% green" if running else "",
            }
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif not rows:
        print("no deployments yet (patchwarden deploy start PATH runs one)")
    else:
        print_table(
            rows, ["deployment", "group", "serving", "instances", "router", "last run", "now"]
        )
    return 0


def _history(args: argparse.Namespace) -> int:
    import json

    from patchwarden.adapters.deployers.catalog import run_json
    from patchwarden.cli.api import print_table
    from patchwarden.cli.common import fit_last_column
    from patchwarden.errors import InputError

    store = _store()
    name = args.name or ""
    if name.startswith("d-"):
        run = store.get(name)
        if run is None:
            raise InputError(f"no deployment run {name} (patchwarden deploy history lists them)")
        if args.format == "json":
            sys.stdout.write(json.dumps(run_json(run), indent=2) + "\n")
            return 0
        sys.stdout.write(summary(run).split("next:")[0] + "\n")
        rows = [
            {
                "at": e.at.strftime("%H:%M:%S"),
                "event": e.event,
                "green": f"{e.green_percent}%",
                "detail": e.detail,
            }
            for e in run.events
        ]
        fit_last_column(rows, ["at", "event", "green"], "detail")
        print_table(rows, ["at", "event", "green", "detail"])
        return 0
    runs = store.runs()
    if name:
        runs = [r for r in runs if r.deployment == name]
    if args.format == "json":
        sys.stdout.write(json.dumps([run_json(r) for r in runs], indent=2) + "\n")
        return 0
    if not runs:
        print("no deployment runs" + (f" of {name}" if name else "") + " yet")
        return 0
    rows = [
        {
            "id": r.id,
            "deployment": r.deployment,
            "started": r.created.strftime("%Y-%m-%d %H:%M:%S"),
            "strategy": r.strategy.value,
            "image": r.image,
            "status": r.status.value + (" (rolled back)" if r.rolled_back else ""),
            "trigger": r.trigger,
            "reason": r.reason,
        }
        for r in runs
    ]
    columns = ["id", "deployment", "started", "strategy", "image", "status", "trigger"]
    fit_last_column(rows, columns, "reason")
    print_table(rows, [*columns, "reason"])
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from patchwarden.cli.common import actor as _actor
    from patchwarden.core.deploy.model import DeploymentStatus
    from patchwarden.pipeline.deploy import roll_back

    store = _store()
    deployment = _remembered(store, args.name)
    deps = _deps(deployment, store, args.quiet, lambda _image: ())  # going back is never refused
    result = roll_back(deployment, deps, actor=_actor())
    if result.action == "requested":
        print(f"{result.run.id}: {result.detail}; patchwarden deploy history {result.run.id}")
        return 0
    code = _report(result.run, args.format)
    if result.action == "rolled-back":
        return 0
    return code if result.run.status is DeploymentStatus.SUCCEEDED else 1
