"""Coverage-guided fuzzing of one parser with atheris (libFuzzer), for long runs by hand.

    .venv/bin/python tests/fuzz/atheris_driver.py TARGET SECONDS [libFuzzer options…]
    .venv/bin/python tests/fuzz/atheris_driver.py --list

The targets are the entry points of ``test_parsers_fuzz.py`` (the same contract: bad input
raises the project's error, nothing else, and never hangs), fed raw bytes; the corpus starts
from the same fixtures.  Corpus and crash files go to a temporary directory (printed), or to
``$PATCHWARDEN_ATHERIS_DIR``.  atheris is not a project dependency: ``pip install atheris``
(a wheel for CPython 3.11 on x86-64 Linux).  A crash it finds becomes a regression test in
``test_parser_regressions.py``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["patchwarden"]):
    import test_parsers_fuzz as fz

    from patchwarden.adapters.image.layers import LayerFiles, apply_layer
    from patchwarden.adapters.image.manifests import load_json, parse_config, parse_manifest
    from patchwarden.adapters.image.packages import rpm_packages
    from patchwarden.adapters.os.apk import db as apk_db
    from patchwarden.adapters.os.apt.changelog import parse_changelog
    from patchwarden.adapters.os.apt.conf import parse_apt_conf
    from patchwarden.adapters.os.apt.policy import parse_preferences
    from patchwarden.adapters.os.dnf.repomd import parse_repomd
    from patchwarden.adapters.os.dnf.updateinfo import index_notices, iter_notices, notice_facts
    from patchwarden.core.schedule import check_fires, next_runs, parse_schedule, validate_window
    from patchwarden.documents.baseline import import_aws_json
    from patchwarden.errors import InputError, PatchwardenError
    from patchwarden.versions import SCHEMES, compare

Target = Callable[[bytes, Path], None]


def _feed(feed: str, name: str) -> Target:
    def run(data: bytes, tmp: Path) -> None:
        fz.feed_parse(tmp, feed, name, data)

    return run


def _apt(field: str, **fixed: object) -> Target:
    def run(data: bytes, tmp: Path) -> None:
        with fz.scratch(tmp) as base:
            fz.contract(fz.apt_root(Path(base), **{field: data}, **fixed).collect)  # type: ignore[arg-type]

    return run


def _documents(name: str) -> Target:
    def run(data: bytes, tmp: Path) -> None:
        fz.load_document_bytes(tmp, name, data)

    return run


def _updateinfo(data: bytes, tmp: Path) -> None:
    def parse() -> object:
        notices = list(iter_notices(io.BytesIO(data), "updateinfo.xml"))
        index_notices(notices)
        return notice_facts(notices)

    fz.contract(parse)


def _schedule(data: bytes, tmp: Path) -> None:
    from datetime import UTC, datetime

    expression = fz.decoded(data)
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)

    def use() -> object:
        schedule = parse_schedule(expression)
        validate_window(3, 1, schedule, None)
        check_fires(schedule, now, timezone="Europe/Berlin")
        return next_runs(expression, after=now, count=3, timezone="Europe/Berlin")

    fz.contract(use, InputError)


def _oci_manifest(data: bytes, tmp: Path) -> None:
    def parse() -> object:
        return parse_manifest(load_json(data, "manifest"), "manifest")

    fz.contract(parse, InputError)
    layer = gzip.compress(fz.tar_of(fz.BASE_LAYER), mtime=0)
    with fz.scratch(tmp) as base:
        ref = fz.write_layout(Path(base) / "img", [layer], manifest=lambda _: data)
        fz.contract(lambda: fz.read_image(ref), InputError)


def _oci_config(data: bytes, tmp: Path) -> None:
    fz.contract(lambda: parse_config(data, "config"), InputError)


def _oci_layer(data: bytes, tmp: Path) -> None:
    fz.contract(lambda: apply_layer(LayerFiles(), io.BytesIO(data), "layer"), InputError)
    with fz.scratch(tmp) as base:
        ref = fz.write_layout(Path(base) / "img", [data])
        fz.contract(lambda: fz.read_image(ref), InputError)


def _rpm_headers(data: bytes, tmp: Path) -> None:
    files = LayerFiles()
    apply_layer(files, io.BytesIO(fz.tar_of([("var/lib/rpm/rpmdb.sqlite", b"x")])), "layer")
    fz.contract(lambda: rpm_packages(files, fz.FakeRunner(fz.decoded(data))))


def _versions(data: bytes, tmp: Path) -> None:
    a, _, b = fz.decoded(data).partition("\n")
    for scheme in SCHEMES:
        fz.contract(lambda: compare(scheme, a, b), InputError)  # noqa: B023 (called at once)


def _text(
    parse: Callable[[str], object], allowed: type[BaseException] = PatchwardenError
) -> Target:
    def run(data: bytes, tmp: Path) -> None:
        fz.contract(lambda: parse(fz.decoded(data)), allowed)

    return run


LAYER = gzip.compress(fz.tar_of(fz.BASE_LAYER), mtime=0)
TARGETS: dict[str, tuple[Target, Sequence[bytes]]] = {
    "dpkg-status": (_apt("status"), [fz.STATUS]),
    "apt-packages": (_apt("packages"), [fz.PACKAGES]),
    "apt-packages-gz": (_apt("packages", suffix=".gz"), [gzip.compress(fz.PACKAGES)]),
    "apt-release": (_apt("release"), [fz.RELEASE]),
    "apt-inrelease": (_apt("release", in_release=True), [fz.IN_RELEASE]),
    "apt-preferences": (_text(parse_preferences), [fz.PREFERENCES]),
    "apt-conf": (_text(parse_apt_conf), [fz.APT_CONF]),
    "deb-changelog": (_text(parse_changelog), [fz.CHANGELOG]),
    "updateinfo": (_updateinfo, fz.UPDATEINFO),
    "repomd": (
        lambda d, t: fz.contract(lambda: parse_repomd(d, "repomd.xml")),
        fz.seeds("feeds/alas/repomd.xml"),
    ),
    "rpm-headers": (_rpm_headers, [fz.RPM_QUERY]),
    "apk-db": (_text(lambda s: apk_db.parse(s, "installed"), InputError), [fz.APK_INSTALLED]),
    "feed-debian-tracker": (_feed("debian-tracker", "json"), fz.seeds("feeds/debian-tracker/*")),
    "feed-osv": (_feed("osv-debian", "R.json"), fz.OSV),
    "feed-osv-zip": (_feed("osv-debian", "all.zip"), [fz.zip_of([("a.json", fz.OSV[0])])]),
    "feed-alpine-secdb-json": (_feed("alpine-secdb", "main.json"), fz.ALPINE_JSON),
    "feed-alpine-secdb-yaml": (_feed("alpine-secdb", "main.yaml"), fz.ALPINE_YAML),
    "feed-nvd": (_feed("nvd", "nvdcve-2.0-2024.json"), fz.NVD),
    "feed-cisa-kev": (_feed("cisa-kev", "kev.json"), fz.seeds("feeds/cisa-kev/*.json")),
    "feed-epss": (_feed("epss", "epss.csv"), fz.seeds("feeds/epss/*.csv")),
    "feed-alas": (_feed("alas", "updateinfo.xml"), fz.seeds("feeds/alas/updateinfo-*.xml")),
    "feed-redhat-csaf": (_feed("redhat-csaf", "cve.json"), fz.seeds("feeds/redhat-csaf/*.json")),
    "documents-yaml": (_documents("doc.yaml"), fz.DOCUMENTS),
    "documents-json": (
        _documents("doc.json"),
        [json.dumps(tree).encode() for tree in fz.DOCUMENT_TREES],
    ),
    "aws-baseline": (
        _text(lambda s: import_aws_json(s, "baseline.json"), InputError),
        fz.AWS_BASELINE,
    ),
    "schedule": (_schedule, [s.encode() for s in fz.SCHEDULE_SEEDS]),
    "oci-manifest": (_oci_manifest, [json.dumps({"schemaVersion": 2, "layers": []}).encode()]),
    "oci-config": (_oci_config, [json.dumps(fz.CONFIG).encode()]),
    "oci-layer": (_oci_layer, [LAYER, fz.tar_of(fz.BASE_LAYER)]),
    "versions": (_versions, [b"1:2.3-4+deb12u1\n1.0~rc1", b"2.0_p1-r3\n1.0^git1.el9"]),
}


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "--list":
        print("\n".join(sorted(TARGETS)))
        return 0
    if len(argv) < 3 or argv[1] not in TARGETS or not argv[2].isdigit():
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        print(f"targets: {', '.join(sorted(TARGETS))}", file=sys.stderr)
        return 2
    name, seconds = argv[1], int(argv[2])
    target, seeds = TARGETS[name]
    work = Path(os.environ.get("PATCHWARDEN_ATHERIS_DIR") or tempfile.mkdtemp(prefix="pw-fuzz-"))
    corpus, crashes, scratch = work / f"corpus-{name}", work / "crashes", work / "scratch"
    for folder in (corpus, crashes, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    print(f"atheris: {name} for {seconds} s; corpus {corpus}, crashes in {crashes}/")

    def one(data: bytes) -> None:
        target(data, scratch)

    options = [
        f"-max_total_time={seconds}",
        f"-artifact_prefix={crashes}/{name}-",
        "-timeout=60",
        "-rss_limit_mb=4096",
        *argv[3:],
        str(corpus),
    ]
    atheris.Setup([argv[0], *options], one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
