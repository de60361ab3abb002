"""``patchwarden image …`` — container images.

``image scan REF`` reads an image (OCI layout, oci-archive, docker-archive or a registry
reference) without a container engine and assesses its OS packages against the local
vulnerability database, as ``scan --vulns`` does for a host (docs/images.md).  Exit codes
as ``scan``: 1 when ``--fail-on`` finds an ACTIVE finding at or above its severity (``kev``:
known exploited) or ``--fail-on-epss`` one at or above its EPSS score, 2 for
bad input (not an image, a corrupt layer, an unknown tag), 3 for the environment (no
database, registry unreachable).  Only argparse and the shared
options are imported at module level.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from patchwarden.cli.common import finding_options

FORMATS = ("table", "json", "sarif", "cyclonedx")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")


def _platform(text: str) -> str:
    if not _PLATFORM.match(text):
        raise argparse.ArgumentTypeError(f"expected OS/ARCH[/VARIANT] (linux/arm64), got {text!r}")
    return text


def register(sub: Any) -> None:
    """Add the ``image`` command group."""
    image = sub.add_parser(
        "image", help="container images: build golden images, scan any image (no engine)"
    )
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    p = isub.add_parser(
        "scan",
        help="assess the OS packages of a container image for vulnerabilities",
        description="Read an image's layers (streamed, never unpacked) and assess its "
        "dpkg or rpm packages against the local vulnerability database "
        "(patchwarden db update / db import). REF: an OCI layout DIR or DIR:TAG "
        "(oci:DIR[:TAG]), an oci-archive or docker-archive tar "
        "(oci-archive:FILE[:TAG], docker-archive:FILE[:REPO:TAG]), or "
        "docker://HOST/REPO:TAG (docker://HOST/REPO@sha256:…).",
    )
    p.add_argument("ref", metavar="REF", help="the image")
    p.add_argument(
        "--platform",
        type=_platform,
        metavar="OS/ARCH",
        help="the image of a multi-platform index to scan (default: this host's linux/ARCH)",
    )
    p.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format")
    p.add_argument(
        "--all", action="store_true", help="table: list suppressed and closed findings too"
    )
    finding_options(p)
    p.add_argument(
        "--db-max-age",
        metavar="AGE",
        help="warn when a feed of the database is older than AGE (3d, 72h; default "
        "$PATCHWARDEN_DB_MAX_AGE or 3 days)",
    )
    p.add_argument(
        "--tls-verify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="registry: check TLS certificates (--no-tls-verify also allows plain HTTP)",
    )
    p.add_argument(
        "--creds-file",
        type=Path,
        metavar="FILE",
        help="registry credentials: an auth JSON file (as skopeo/docker login write) or "
        "a user:password line",
    )
    p.set_defaults(handler=_scan)
    from patchwarden.cli import image_build, image_tree

    image_build.register(isub)
    image_tree.register(isub)


def _scan(args: argparse.Namespace) -> int:
    import sys

    from patchwarden import settings
    from patchwarden.adapters.image.reader import OciImageReader
    from patchwarden.cli.common import by_option, epss_option, fail_on_option, now
    from patchwarden.cli.progress import progress
    from patchwarden.cli.run import _gates, _render, load_suppressions, open_advisory_store
    from patchwarden.pipeline.image_scan import assess_image

    by = by_option(args.by)
    fail_on = fail_on_option(args.fail_on)
    fail_on_epss = epss_option(args.fail_on_epss)
    max_age = settings.parse_age(args.db_max_age) if args.db_max_age else settings.vulndb_max_age()
    suppressions = load_suppressions(tuple(args.suppressions or ()))
    reader = OciImageReader(
        platform=args.platform, tls_verify=args.tls_verify, creds_file=args.creds_file
    )
    with progress("reading the image…"):
        contents = reader.read(args.ref)  # a bad image is said before a missing database
    store = open_advisory_store(settings.vulndb_path()) if contents.inventory else None
    report = assess_image(
        contents,
        now(),
        store=store,
        suppressions=suppressions,
        ignore_unfixed=args.ignore_unfixed,
        db_max_age=max_age,
    )
    sys.stdout.write(_render(report, args.format, args.all, by=by, rerun=_rerun(args)))
    if _gates(report.vulnerabilities or (), fail_on, fail_on_epss):
        return 1
    return 0


def _rerun(args: argparse.Namespace) -> tuple[str, ...]:
    """``patchwarden image scan REF …`` that repeats this scan (for the ``next:`` line)."""
    import shlex

    return (
        "patchwarden",
        "image",
        "scan",
        shlex.quote(args.ref),
        *(("--platform", args.platform) if args.platform else ()),
        *(("--ignore-unfixed",) if args.ignore_unfixed else ()),
        *(w for p in args.suppressions or () for w in ("--suppressions", shlex.quote(str(p)))),
        *(("--no-tls-verify",) if not args.tls_verify else ()),
        *(("--creds-file", shlex.quote(str(args.creds_file))) if args.creds_file else ()),
    )
