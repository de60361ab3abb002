"""The rebuilt root of a node component: what of the node's files reaches it."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from patchwarden import wire
from patchwarden.adapters.blobs import BlobStore
from patchwarden.adapters.os.remote import rebuild


def _facts(blobs: BlobStore, files: dict[str, str]) -> wire.RootFacts:
    listed = []
    for path, text in files.items():
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()
        blobs.put_gzip(digest, [gzip.compress(data)])
        listed.append(wire.FactFile(path, digest, len(data)))
    return wire.RootFacts("apt", "/", "web1", listed)


def test_only_options_that_choose_versions_reach_the_rebuilt_root(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    facts = _facts(
        blobs,
        {
            "etc/apt/apt.conf.d/99solver": (
                'APT::Solver "sh";\nDir::Bin::Solvers "/bin";\nDir::Bin::ischroot "/bin/true";\n'
                'DPkg::Pre-Invoke { "touch /tmp/pwned"; };\n'
                'APT::Get::Always-Include-Phased-Updates "true";\n'
            ),
            "etc/apt/apt.conf": 'APT::Default-Release "bookworm";\nAPT::Machine-ID "a b";\n',
            "var/lib/dpkg/status": "Package: dpkg\n",
        },
    )
    root = tmp_path / "root"
    rebuild(root, facts, blobs)
    assert (root / "etc/apt/apt.conf").read_text() == (
        'APT::Default-Release "bookworm";\nAPT::Get::Always-Include-Phased-Updates "true";\n'
    )  # a value with a space (or a quote) is dropped, never written
    assert list((root / "etc/apt/apt.conf.d").iterdir()) == []
    assert not (root / "etc/apt/apt.conf").is_symlink()
    assert (root / "var/lib/dpkg/status").read_text() == "Package: dpkg\n"
    assert (root / "etc/hostname").read_text() == "web1\n"

    # the node drops its options: so does the rebuilt root
    rebuild(root, _facts(blobs, {"var/lib/dpkg/status": "Package: dpkg\n"}), blobs)
    assert (root / "etc/apt/apt.conf").read_text() == ""


def test_only_dnf_options_that_choose_versions_reach_the_rebuilt_root(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    files = {
        "etc/dnf/dnf.conf": (
            "[main]\nplugins=1\npluginpath=/tmp/evil\ninclude=/etc/evil.conf\n"
            "exclude=kernel*\n  nginx\nbest=True\n"
        ),
        "etc/yum.repos.d/a.repo": (
            "[base]\nname=Base\nbaseurl=https://mirror/$releasever/\n"
            "sslclientkey=/etc/shadow\nenabled=1\npriority=5\n"
            "[bad/../id]\nbaseurl=file:///\n"
        ),
        "etc/yum.repos.d/b.repo": "[other]\nmetalink=https://m\n",
        "var/lib/rpm/rpmdb.sqlite": "db",
        "etc/os-release": "ID=amzn\n",
    }
    listed = _facts(blobs, files)
    facts = listed._replace(manager="dnf")
    root = tmp_path / "root"
    rebuild(root, facts, blobs)
    assert (root / "etc/dnf/dnf.conf").read_text() == (
        "[main]\nexclude=kernel* nginx\nbest=True\nplugins=0\n"
    )
    assert (root / "etc/yum.repos.d/a.repo").read_text() == (
        "[base]\nname=Base\nbaseurl=https://mirror/$releasever/\nenabled=1\npriority=5\n"
    )
    db = root / "var/lib/rpm/rpmdb.sqlite"
    assert db.read_text() == "db" and not db.is_symlink()  # a copy: rpm writes beside it
    assert (root / "etc/os-release").is_symlink()
    assert not (root / "etc/apt").exists()

    # a new database replaces the copy (and whatever rpm left beside it); a repo file the
    # node dropped goes away; no dnf.conf still gives plugins=0
    (root / "var/lib/rpm/rpmdb.sqlite-shm").write_text("stale")
    fewer = {"var/lib/rpm/rpmdb.sqlite": "db2", "etc/yum.repos.d/a.repo": "[base]\n"}
    rebuild(root, _facts(blobs, fewer)._replace(manager="dnf"), blobs)
    assert sorted(p.name for p in (root / "var/lib/rpm").iterdir()) == ["rpmdb.sqlite"]
    assert db.read_text() == "db2"
    assert not (root / "etc/yum.repos.d/b.repo").exists()
    assert (root / "etc/dnf/dnf.conf").read_text() == "[main]\nplugins=0\n"
    assert not (root / "etc/os-release").exists()
