"""``patchwarden image tree [NAME]`` and ``image build --if-stale`` — which images derive
from which, and which are stale (docs/images.md, "Staleness and rebuilds").

The tree is the local catalog arranged by ancestry (:func:`patchwarden.core.staleness.
image_tree`); each AVAILABLE image is judged by
:class:`patchwarden.pipeline.image_staleness.Judge`: its parent (by the recipe's parent
selector when ``--documents`` gives the recipes, else newer builds of the same parent
version), its package sources (the root recipe's bootstrap mirrors, with ``--documents``)
and the local vulnerability database (its recorded package list assessed again, when the
database exists; else the fixes its build's scan recorded).  What cannot be checked is a
``warning:`` line on stderr; the exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.adapters.image.store import LocalImageStore
    from patchwarden.core.recipe import BuildInputs
    from patchwarden.documents.image import ImageDocuments
    from patchwarden.pipeline.image_staleness import IfStale, Judge


def register(isub: Any) -> None:
    """Add ``image tree`` to the ``image`` group."""
    t = isub.add_parser(
        "tree",
        help="which images derive from which, and which are stale (and why)",
        description="The images built on this machine by ancestry: each root is a bootstrap "
        "or external parent, each image is indented under the image it was built on, with "
        "its status, digest, creation time, trigger and — when it is stale — STALE and the "
        "reasons: a newer AVAILABLE parent image, a newer version of one of its packages in "
        "the recipe's mirrors (needs --documents), a fix for one of its findings.",
    )
    t.add_argument("name", nargs="?", metavar="NAME", help="only this image, its ancestors "
                   "and its descendants")  # fmt: skip
    t.add_argument(
        "--documents",
        "-d",
        type=Path,
        metavar="PATH",
        help="the image documents (file or directory): recipes' parent selectors and "
        "bootstrap mirrors",
    )
    t.add_argument(
        "--no-sources",
        action="store_true",
        help="do not read the mirrors' package indices (no network)",
    )
    t.add_argument("--all", action="store_true", help="DELETED images too")
    t.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    t.set_defaults(handler=_tree)


@contextmanager
def judging(
    store: LocalImageStore, documents: ImageDocuments | None, *, sources: bool = True
) -> Iterator[Judge]:
    """A judge over the local catalog, the documents' recipes, their mirrors and the local
    vulnerability database (closed afterwards)."""
    from patchwarden import settings
    from patchwarden.adapters.image.mirrors import MirrorIndex
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.cli.common import now
    from patchwarden.pipeline.image_staleness import Judge

    path = settings.vulndb_path()
    advisories = SqliteVulnDb(path) if path.is_file() else None
    try:
        yield Judge(
            records=store.catalog.images(),
            now=now(),
            recipe_of=documents.recipe_or_none if documents is not None else None,
            sources=MirrorIndex() if sources and documents is not None else None,
            advisories=advisories,
        )
    finally:
        if advisories is not None:
            advisories.close()


def _warn(lines: list[str]) -> None:
    from patchwarden.cli.common import printable

    for line in dict.fromkeys(lines):
        sys.stderr.write(f"warning: {printable(line)}\n")


def if_stale(documents: ImageDocuments, inputs: BuildInputs, store: LocalImageStore) -> IfStale:
    """``image build --if-stale``: the trigger of the build to run, or why not."""
    from patchwarden.pipeline.image_staleness import stale_trigger

    with judging(store, documents) as judge:
        found = stale_trigger(inputs.recipe, inputs.pipeline, judge)
    if found.staleness is not None:
        _warn(list(found.staleness.warnings))
    return found


def _tree(args: argparse.Namespace) -> int:
    import json

    from patchwarden.cli.common import printable
    from patchwarden.core.imagebuild import ImageStatus
    from patchwarden.core.staleness import image_tree, render_tree, tree_json, tree_keys
    from patchwarden.documents.image import load_image_documents

    documents = load_image_documents(args.documents) if args.documents else None
    from patchwarden import settings
    from patchwarden.adapters.image.store import LocalImageStore

    store = LocalImageStore(settings.images_dir())
    with judging(store, documents, sources=not args.no_sources) as judge:
        roots = image_tree(judge.records, args.name, deleted=args.all)
        shown = set(tree_keys(roots))
        marks = {
            r.key: judge(r)
            for r in judge.records
            if r.status is ImageStatus.AVAILABLE and r.key in shown
        }
    if args.format == "json":
        sys.stdout.write(json.dumps(tree_json(roots, marks), indent=2) + "\n")
    elif not roots:
        print(
            "no images"
            + (f" named {args.name}" if args.name else "")
            + " (patchwarden image build PATH makes one)"
        )
    else:
        for line in render_tree(roots, marks):
            print(printable(line))
    _warn([w for m in marks.values() for w in m.warnings])
    return 0
