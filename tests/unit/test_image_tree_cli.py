"""``patchwarden image tree`` and ``image build --if-stale`` over a local catalog (a
temporary ``$PATCHWARDEN_HOME``; nothing is built: the not-stale path stops before the
build)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.image.catalog import LocalImageCatalog
from patchwarden.cli.main import main
from patchwarden.core.imagebuild import ImagePackage, ImageRecord, ImageStatus
from patchwarden.core.semver import ImageVersion

AT = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
DOCS = """
apiVersion: patchwarden/v1
kind: Component
metadata: {name: site}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {name: index, action: CreateFile, inputs: [{path: /srv/index.html, content: hi}]}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {name: web-base}
spec:
  semanticVersion: 1.0.0
  parentImage:
    bootstrap:
      suite: bookworm
      mirrors: ["deb [trusted=yes] copy://MIRROR bookworm main"]
  components: [{componentArn: site}]
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {name: web}
spec:
  semanticVersion: 1.0.0
  parentImage: web-base:1.x.x
  components: [{componentArn: site}]
"""


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as ended:
        main(argv)
    return int(ended.value.code or 0)


def image(name: str, version: str, parent: str, **kw: object) -> ImageRecord:
    return ImageRecord(
        name,
        ImageVersion.parse(version),
        ImageStatus.AVAILABLE,
        AT,
        AT,
        parent=parent,
        digest="sha256:" + "cd" * 32,
        packages=(ImagePackage("zlib1g", "amd64", "1:1.2.13.dfsg-1", "zlib"),),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalImageCatalog:
    monkeypatch.setenv("PATCHWARDEN_HOME", str(tmp_path / "home"))
    from patchwarden import settings

    catalog = LocalImageCatalog(settings.images_dir() / "catalog.db")
    catalog.save(image("web-base", "1.0.0/2", "bootstrap bookworm (minbase)", trigger="manual"))
    catalog.save(image("web", "1.0.0/1", "web-base 1.0.0/2", parent_image=("web-base", "1.0.0/2")))
    return catalog


def docs(tmp_path: Path) -> Path:
    path = tmp_path / "images.yaml"
    path.write_text(DOCS.replace("MIRROR", str(tmp_path / "mirror")))
    return path


def test_tree_shows_ancestry_and_staleness(
    home: LocalImageCatalog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["image", "tree"]) == 0
    out = capsys.readouterr().out.splitlines()
    digest = "sha256:" + "cd" * 6
    assert out == [
        "bootstrap bookworm (minbase)",
        f"  web-base 1.0.0/2  AVAILABLE  {digest}  2026-12-05 03:00  manual",
        f"    web 1.0.0/1  AVAILABLE  {digest}  2026-12-05 03:00  -",
    ]
    home.save(image("web-base", "1.0.0/3", "bootstrap bookworm (minbase)"))
    assert run(["image", "tree", "web", "-f", "json"]) == 0
    (root,) = json.loads(capsys.readouterr().out)
    (base,) = root["images"]
    (web,) = base["children"]
    assert web["stale"] is True
    assert web["reasons"] == [
        {"kind": "parent", "text": "parent updated: web-base 1.0.0/3 is newer than 1.0.0/2"}
    ]


def test_tree_reads_the_root_recipes_mirrors(
    home: LocalImageCatalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "mirror/dists/bookworm/main/binary-amd64"
    binary.mkdir(parents=True)
    (binary / "Packages").write_text(
        "Package: zlib1g\nVersion: 1:1.2.13.dfsg-1+b1\nArchitecture: amd64\n\n"
    )
    assert run(["image", "tree", "--documents", str(docs(tmp_path))]) == 0
    captured = capsys.readouterr()
    stale = [line for line in captured.out.splitlines() if "STALE" in line]
    assert len(stale) == 2  # web-base and web, which carries web-base's packages
    assert stale[1].endswith(
        "STALE: zlib1g 1:1.2.13.dfsg-1 → 1:1.2.13.dfsg-1+b1 in the root recipe's mirrors"
    )
    assert captured.err == ""


def test_build_if_stale_with_nothing_to_do(
    home: LocalImageCatalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = docs(tmp_path)  # no mirror there: a warning, and nothing else known
    assert run(["image", "build", str(path), "--recipe", "web", "--if-stale"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "web 1.0.0/1 is not stale: nothing to do\n"
    assert captured.err.startswith("warning: package sources: no package index ")
    assert len(captured.err.splitlines()) == 1
