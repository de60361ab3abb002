"""``patchwarden pipeline start|list`` — image pipelines on the fleet server.

``pipeline start NAME`` is StartImagePipelineExecution: the server resolves the pipeline's
documents, records the image PENDING and hands the build to an agent started with
``--image-builder``; ``--wait`` follows it to AVAILABLE (exit 0) or FAILED (exit 1).
"""

from __future__ import annotations

import argparse
from typing import Any

from patchwarden.cli.api import add_connection_options

FINAL = ("AVAILABLE", "FAILED", "CANCELLED")


def register(sub: Any) -> None:
    """Add the ``pipeline`` command group."""
    pipeline = sub.add_parser("pipeline", help="image pipelines on the server (start, list)")
    psub = pipeline.add_subparsers(dest="pipeline_command", metavar="COMMAND", required=True)
    start = psub.add_parser(
        "start",
        help="run an image pipeline now (a builder agent builds the image)",
        description="StartImagePipelineExecution: build the pipeline's recipe on an agent "
        "started with --image-builder, test, scan, gate and distribute it.",
    )
    start.add_argument("name", metavar="NAME", help="the ImagePipeline")
    start.add_argument("--node", metavar="ID", help="build on this node (default: any builder)")
    start.add_argument(
        "--force-parent", action="store_true", help="build on a DEPRECATED parent image"
    )
    start.add_argument(
        "--tests",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the test phases (default: the pipeline's imageTestsEnabled)",
    )
    start.add_argument(
        "--distribute",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="push to the distribution configuration (default: yes)",
    )
    start.add_argument(
        "--source-date-epoch",
        type=int,
        metavar="SECONDS",
        help="the build's SOURCE_DATE_EPOCH (default: now)",
    )
    start.add_argument(
        "--wait", action="store_true", help="wait until the image is AVAILABLE or FAILED"
    )
    start.add_argument(
        "--wait-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="give up waiting after this long (default 3600)",
    )
    add_connection_options(start)
    start.set_defaults(handler=_start)
    ls = psub.add_parser("list", help="the server's image pipelines")
    add_connection_options(ls)
    ls.set_defaults(handler=_list)


def _start(args: argparse.Namespace) -> int:
    import time

    from patchwarden.cli.api import ServerApi, print_json
    from patchwarden.cli.common import printable

    api = ServerApi(args)
    body: dict[str, Any] = {"forceParent": args.force_parent, "distribute": args.distribute}
    if args.tests is not None:
        body["imageTestsEnabled"] = args.tests
    if args.node:
        body["node"] = args.node
    if args.source_date_epoch is not None:
        body["sourceDateEpoch"] = args.source_date_epoch
    started = api.call("POST", f"/api/v1/image-pipelines/{args.name}/start", json=body)
    image = started["image"]
    semantic, build = image["version"].split("/")
    print(
        printable(
            f"image {image['name']} {image['version']} PENDING on {started['node']} "
            f"(command {started['command_id']})"
        )
    )
    if not args.wait:
        print(f"next: patchwarden describe images {image['name']}/{image['version']}")
        return 0
    path = f"/api/v1/images/{image['name']}/{semantic}/{build}"
    deadline = time.monotonic() + args.wait_timeout
    shown = image["status"]
    while True:
        image = api.call("GET", path)
        if image["status"] != shown:
            shown = image["status"]
            print(printable(f"  {shown}" + (f": {image['reason']}" if image.get("reason") else "")))
        if image["status"] in FINAL:
            break
        if time.monotonic() > deadline:
            print(f"still {image['status']} after {args.wait_timeout:.0f} s; not waiting longer")
            return 3
        time.sleep(2)
    if args.format == "json":
        print_json(image)
    else:
        for pushed in image.get("distributed", []):
            print(printable(f"  pushed {pushed['destination']}:{','.join(pushed['tags'])}"))
        if image.get("digest"):
            print(f"  digest {image['digest']}")
    return 0 if image["status"] == "AVAILABLE" else 1


def _list(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    show(
        args,
        ServerApi(args).call("GET", "/api/v1/image-pipelines"),
        ["name", "modified_at", "created_by"],
    )
    return 0
