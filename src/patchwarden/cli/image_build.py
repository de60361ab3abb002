"""``patchwarden image build|list|describe|history|delete|lifecycle|tree`` — golden images on
this machine, without a server (docs/images.md, "Building images").

``image build PATH`` reads the documents in PATH (a file or a directory: ImageRecipe,
Component, and for a pipeline run ImagePipeline, DistributionConfiguration, PatchBaseline)
and builds, tests, scans, gates and distributes one image; the images live in the local
image store (``$PATCHWARDEN_HOME/images``).  Exit codes: 0 AVAILABLE, 1 FAILED (a step, a
test or the gate), 2 bad input, 3 the environment (a missing tool, not root).  With
``--if-stale`` it builds only when the newest AVAILABLE image is stale (``image tree`` shows
which are, and why: :mod:`patchwarden.cli.image_tree`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.cli.common import actor as _actor
from patchwarden.cli.common import fit_last_column
from patchwarden.cli.common import image_store as _store

if TYPE_CHECKING:
    from patchwarden.core.imagebuild import ImageRecord


def _epoch(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected seconds since 1970 (1735689600), got {text!r}")
    return int(text)


def register(isub: Any) -> None:
    """Add the build and catalog commands to the ``image`` group."""
    b = isub.add_parser(
        "build",
        help="build, test, scan, gate and distribute a golden image (no server)",
        description="Build an image from the documents in PATH (a file or a directory of "
        "ImageRecipe, Component, ImagePipeline, DistributionConfiguration and PatchBaseline "
        "documents): the parent becomes a root filesystem, each component's build and "
        "validate phases run in it (chroot; needs root), it is packed as an OCI image, its "
        "test phases run in a fresh copy, it is scanned, judged by the pipeline's gate and "
        "pushed to the distribution's registries. Without --pipeline or --recipe, PATH's "
        "only pipeline (or only recipe) is built.",
    )
    b.add_argument("path", type=Path, metavar="PATH", help="a document file or directory")
    b.add_argument("--pipeline", metavar="NAME", help="run this ImagePipeline of PATH")
    b.add_argument(
        "--recipe",
        metavar="NAME[:VERSION]",
        help="build this ImageRecipe of PATH (newest version matching, 1.x.x wildcards)",
    )
    b.add_argument(
        "--tests",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the components' test phases (default: the pipeline's imageTestsEnabled, "
        "else yes)",
    )
    b.add_argument(
        "--distribute",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="push to the pipeline's distribution configuration (default: yes)",
    )
    b.add_argument(
        "--force-parent",
        action="store_true",
        help="build on a DEPRECATED parent image (refused otherwise)",
    )
    b.add_argument(
        "--source-date-epoch",
        type=_epoch,
        metavar="SECONDS",
        help="clamp file times to this and use it as the image's creation time (default: "
        "$SOURCE_DATE_EPOCH, else now); the same inputs and epoch give the same digest",
    )
    b.add_argument(
        "--if-stale",
        action="store_true",
        help="build only when the newest AVAILABLE image of the pipeline (or recipe) is stale "
        "— its parent image, its package sources or a fix moved on — or there is none; "
        "else say so and exit 0",
    )
    b.add_argument(
        "--deploy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="roll the image out with the Deployment its pipeline names (automatic "
        "promotion; default: yes)",
    )
    b.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    b.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    b.set_defaults(handler=_build)

    ls = isub.add_parser("list", help="the images built on this machine")
    ls.add_argument("name", nargs="?", metavar="NAME", help="only this image name")
    ls.add_argument("--all", action="store_true", help="DELETED images too")
    ls.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    ls.set_defaults(handler=_list)

    d = isub.add_parser("describe", help="one image: its build log, findings and pushes")
    d.add_argument("name", metavar="NAME", help="the image (recipe) name")
    d.add_argument("version", metavar="VERSION", help="x.y.z/build, or x.y.z / 1.x.x (newest)")
    d.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    d.set_defaults(handler=_describe)

    h = isub.add_parser("history", help="every status change of an image name's builds")
    h.add_argument("name", metavar="NAME", help="the image (recipe) name")
    h.add_argument("version", nargs="?", metavar="VERSION", help="only this build")
    h.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    h.set_defaults(handler=_history)

    rm = isub.add_parser(
        "delete",
        help="delete an image (locally and from the registries it was pushed to)",
    )
    rm.add_argument("name", metavar="NAME", help="the image (recipe) name")
    rm.add_argument("version", metavar="VERSION", help="x.y.z/build")
    rm.add_argument(
        "--keep-registries",
        action="store_true",
        help="delete only the local copy; leave what was pushed",
    )
    rm.set_defaults(handler=_delete)

    lc = isub.add_parser(
        "lifecycle",
        help="apply LifecyclePolicy documents to the images (deprecate, disable, delete)",
    )
    lc.add_argument("path", type=Path, metavar="PATH", help="a document file or directory")
    lc.add_argument("--policy", metavar="NAME", help="only this policy (default: every one)")
    lc.add_argument("--dry-run", action="store_true", help="show what would be done")
    lc.set_defaults(handler=_lifecycle)


def _build(args: argparse.Namespace) -> int:
    import json
    import os
    import time

    from patchwarden import settings
    from patchwarden.adapters.image.catalog import to_json
    from patchwarden.agent.images import local_deps
    from patchwarden.cli.common import now
    from patchwarden.cli.run import _state
    from patchwarden.documents.image import load_image_documents
    from patchwarden.errors import EnvironmentProblem, InputError
    from patchwarden.pipeline.image_build import BuildOptions, build_image

    if args.pipeline and args.recipe:
        raise InputError("give --pipeline or --recipe, not both")
    documents = load_image_documents(args.path)
    inputs = documents.build_inputs(args.pipeline, args.recipe)
    trigger = "manual"
    if args.if_stale:
        from patchwarden.cli.image_tree import if_stale

        found = if_stale(documents, inputs, _store())
        if found.trigger is None:
            print(found.message)
            return 0
        trigger = found.trigger
        if not args.quiet:
            sys.stderr.write(f"{inputs.recipe.name}: building: {trigger}\n")
    promotion = inputs.pipeline.deployment if inputs.pipeline and args.deploy else ""
    if promotion:
        from patchwarden.cli.deploy import load_deployment

        load_deployment(str(args.path), promotion)  # refused now, not after the build
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "image build runs the components in the image's root filesystem (chroot) and "
            "makes device files: run it as root"
        )
    epoch = args.source_date_epoch
    if epoch is None:
        env = os.environ.get("SOURCE_DATE_EPOCH", "")
        if env and not env.isdigit():
            raise InputError(f"SOURCE_DATE_EPOCH: expected seconds since 1970, got {env!r}")
        epoch = int(env) if env else int(time.time())
    store = _store()
    vulndb = settings.vulndb_path()

    def progress(line: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"{inputs.recipe.name}: {line}\n")
            sys.stderr.flush()

    deps = local_deps(
        store,
        vulndb=vulndb,
        cache_dir=settings.cache_dir(),
        state=_state(),
        clock=now,
        progress=progress,
    )
    options = BuildOptions(
        epoch=epoch,
        tests=args.tests,
        distribute=args.distribute,
        force_parent=args.force_parent,
        actor=_actor(),
        trigger=trigger,
    )
    record = build_image(inputs, deps, options)
    available = record.status.value == "AVAILABLE"
    if not (promotion and available):
        if args.format == "json":
            sys.stdout.write(json.dumps(to_json(record), indent=2) + "\n")
        else:
            sys.stdout.write(summary(record))
        return 0 if available else 1
    from patchwarden.adapters.deployers.catalog import run_json
    from patchwarden.cli.deploy import promote
    from patchwarden.cli.deploy import summary as run_summary

    run = promote(str(args.path), promotion, record, quiet=args.quiet)
    if args.format == "json":
        view = {**to_json(record), "deployment": run_json(run) if run else None}
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
    else:
        sys.stdout.write(summary(record).split("next:")[0])
        sys.stdout.write(run_summary(run) if run else f"{promotion}: nothing to do\n")
    return 0 if run is None or run.status.value == "Succeeded" else 1


def summary(record: ImageRecord) -> str:
    """A built image in a few lines, and what to do next."""
    from patchwarden.cli.common import printable

    lines = [f"image {record.name} {record.version}: {record.status.value}"]
    if record.reason:
        lines.append(f"  reason    {printable(record.reason)}")
    if record.digest:
        lines.append(f"  digest    {record.digest}")
        lines.append(f"  layout    {record.layout}:{record.version.tag}")
    if record.parent:
        lines.append(f"  parent    {printable(record.parent)}")
    if record.trigger:
        lines.append(f"  trigger   {printable(record.trigger)}")
    if record.package_count:
        lines.append(f"  packages  {record.package_count} ({record.package_digest[:19]}…)")
    if record.findings:
        lines.append("  findings  " + ", ".join(f"{n} {s}" for s, n in record.findings))
    for fix in record.fixes[:3]:
        lines.append(
            printable(f"  fixable   {fix.vulnerability_id} in {fix.package} {fix.fixed} "
                      f"({fix.severity.value})")
        )  # fmt: skip
    if len(record.fixes) > 3:
        lines.append(f"  fixable   … and {len(record.fixes) - 3} more (-f json lists them)")
    for pushed in record.distributed:
        lines.append(f"  pushed    {pushed.destination}:{','.join(pushed.tags)}")
    if record.digest and record.status.value != "FAILED":
        lines.append(
            f"next: patchwarden image scan {record.layout}:{record.version.tag}"
            "  (the findings, one row per package)"
        )
    elif record.status.value == "FAILED":
        lines.append(
            f"next: patchwarden image describe {record.name} {record.version}  (the build log)"
        )
    return "\n".join(lines) + "\n"


def _list(args: argparse.Namespace) -> int:
    import json

    from patchwarden.adapters.image.catalog import to_json
    from patchwarden.cli.api import print_table

    store = _store()
    records = store.catalog.images(args.name)
    if not args.all:
        records = [r for r in records if r.status.value != "DELETED"]
    if args.format == "json":
        sys.stdout.write(json.dumps([to_json(r) for r in records], indent=2) + "\n")
        return 0
    if not records:
        print(
            "no images"
            + (f" named {args.name}" if args.name else "")
            + " (patchwarden image build PATH makes one)"
        )
        return 0
    rows = [
        {
            "name": r.name,
            "version": str(r.version),
            "status": r.status.value,
            "created": r.created.strftime("%Y-%m-%d %H:%M"),
            "digest": r.digest[:19],
            "findings": ", ".join(f"{n} {s}" for s, n in r.findings) or ("-" if r.digest else ""),
            "reason": r.reason,
        }
        for r in records
    ]
    columns = ["name", "version", "status", "created", "digest", "findings"]
    fit_last_column(rows, columns, "reason")
    print_table(rows, [*columns, "reason"])
    return 0


def _describe(args: argparse.Namespace) -> int:
    import json

    from patchwarden.adapters.image.catalog import to_json
    from patchwarden.cli.api import print_table
    from patchwarden.cli.common import printable
    from patchwarden.pipeline.image_lifecycle import find_image

    record = find_image(_store().catalog, args.name, args.version)
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(record), indent=2) + "\n")
        return 0
    sys.stdout.write(summary(record).split("next:")[0])
    for key, value in record.labels:
        sys.stdout.write(f"  label     {printable(key)}={printable(value)}\n")
    if record.steps:
        sys.stdout.write("\n")
        columns = ["component", "phase", "step", "action", "status", "attempts", "duration"]
        rows = [
            {
                "component": s.component or "-",
                "phase": s.phase,
                "step": s.step,
                "action": s.action,
                "status": s.status,
                "attempts": s.attempts,
                "duration": f"{s.duration:.1f}s",
                "error": s.error,
            }
            for s in record.steps
        ]
        fit_last_column(rows, columns, "error")
        print_table(rows, [*columns, "error"])
    return 0


def _history(args: argparse.Namespace) -> int:
    import json

    from patchwarden.cli.api import print_table
    from patchwarden.pipeline.image_lifecycle import find_image

    store = _store()
    records = (
        [find_image(store.catalog, args.name, args.version)]
        if args.version
        else store.catalog.images(args.name)
    )
    if not records:
        print(f"no image named {args.name} (patchwarden image list shows them)")
        return 0
    rows = [
        {
            "at": h.at.strftime("%Y-%m-%d %H:%M:%S"),
            "version": str(r.version),
            "status": h.status.value,
            "actor": h.actor,
            "reason": h.reason,
        }
        for r in records
        for h in r.history
    ]
    rows.sort(key=lambda row: (row["at"], row["version"]))
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        print_table(rows, ["at", "version", "status", "actor", "reason"])
    return 0


def _delete(args: argparse.Namespace) -> int:

    from patchwarden.cli.common import now, printable
    from patchwarden.core.semver import ImageVersion
    from patchwarden.errors import InputError
    from patchwarden.pipeline.image_lifecycle import delete_image

    try:
        version = str(ImageVersion.parse(args.version))
    except ValueError as exc:
        raise InputError(f"VERSION: {exc} (x.y.z/build, as image list shows)") from None
    store = _store()
    record = store.catalog.get(args.name, version)
    if record is None:
        raise InputError(f"no image {args.name} {version} (patchwarden image list shows them)")
    done = delete_image(
        record,
        store.catalog,
        store,
        now(),
        actor=_actor(),
        registries=not args.keep_registries,
    )
    print(f"image {record.name} {record.version}: DELETED")
    for where in done.removed:
        print(f"  removed  {printable(where)}")
    for where in done.kept:
        print(f"  kept     {printable(where)}")
    return 0


def _lifecycle(args: argparse.Namespace) -> int:

    from patchwarden.cli.api import print_table
    from patchwarden.cli.common import now
    from patchwarden.documents.image import load_image_documents
    from patchwarden.errors import InputError
    from patchwarden.pipeline.image_lifecycle import run_lifecycle

    docs = load_image_documents(args.path)
    policies = (
        [docs.lifecycle_policy(args.policy).policy]
        if args.policy
        else [d.policy for d in docs.lifecycle_policies]
    )
    if not policies:
        raise InputError(f"{args.path}: no LifecyclePolicy documents")
    store = _store()
    rows = []
    for policy in policies:
        for action in run_lifecycle(
            policy,
            store.catalog,
            store,
            now(),
            dry_run=args.dry_run,
            actor=_actor(),
        ):
            rows.append(
                {
                    "policy": policy.name,
                    "image": action.image.name,
                    "version": str(action.image.version),
                    "action": action.action.value + (" (dry run)" if args.dry_run else ""),
                    "reason": action.reason,
                }
            )
    if rows:
        print_table(rows, ["policy", "image", "version", "action", "reason"])
    else:
        print(f"nothing to do: {len(policies)} polic{'y' if len(policies) == 1 else 'ies'} checked")
    return 0
