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


def test_prune_keeps_what_registered_nodes_use_and_what_is_young(tmp_path: Path) -> None:
    import os
    import time

    from patchwarden.adapters.os.remote import RemoteRoots
    from patchwarden.pipeline.fleet.remote import MissingBlobs

    roots = RemoteRoots(tmp_path)
    facts = _facts(
        roots.blobs, {"var/lib/dpkg/status": "Package: dpkg\n", "etc/os-release": "ID=debian\n"}
    )
    old_list = _facts(roots.blobs, {"var/lib/apt/lists/old_Packages": "Package: old\n"})
    gone = _facts(roots.blobs, {"var/lib/dpkg/status": "Package: gone\n"})
    for node, f in (("mi-kept", facts), ("mi-gone", gone)):
        with roots.open(node, f):
            pass  # rebuilt, and its blobs recorded as named
    fresh = _facts(roots.blobs, {"var/lib/apt/lists/new_Packages": "Package: new\n"})
    now = time.time()
    # nothing is old enough yet: everything stays
    assert roots.prune({"mi-kept"}, 3600, now).blobs == 0
    # a day later: the deregistered node's root goes, then every blob no root names (its
    # status file, the list nobody names any more, and the one uploaded but never named)
    done = roots.prune({"mi-kept"}, 3600, now + 86400)
    assert (done.roots, done.blobs) == (1, 3)
    assert not roots.node_dir("mi-gone").exists()
    assert roots.missing(facts.hashes()) == []
    gone_hashes = [*gone.hashes(), *old_list.hashes(), *fresh.hashes()]
    assert sorted(roots.missing(gone_hashes)) == sorted(gone_hashes)
    assert (roots.node_dir("mi-kept") / "root/var/lib/dpkg/status").read_text() == "Package: dpkg\n"
    # a root opened on facts whose blob was pruned asks the node to upload it again
    try:
        with roots.open("mi-kept", fresh):
            raise AssertionError("opened a root with a missing blob")
    except MissingBlobs as exc:
        assert exc.missing == fresh.hashes()
    assert os.path.isdir(roots.node_dir("mi-kept"))


def test_a_zypper_root_keeps_only_safe_configuration_and_copies_the_solv_cache(
    tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    files = {
        "etc/zypp/zypp.conf": (
            "[main]\nsolver.onlyRequires = true\npluginsdir = /tmp/evil\n"
            "commit.downloadMode = DownloadOnly\n"
        ),
        "etc/zypp/repos.d/sles.repo": (
            "[SLES-Updates]\nname=Updates\nenabled=1\nbaseurl=plugin:/susecloud?x=1\n"
            "gpgkey=file:///etc/shadow\nservice=SCC\n[bad/../alias]\nbaseurl=https://x\n"
        ),
        "etc/zypp/repos.d/local.repo": "[local]\nbaseurl=https://mirror/repo\npriority=90\n",
        "usr/lib/sysimage/rpm/Packages.db": "db",
        "var/cache/zypp/solv/local/solv": "solv",
        "var/cache/zypp/raw/local/repodata/repomd.xml": "<repomd/>",
        "etc/os-release": "ID=sles\n",
    }
    facts = _facts(blobs, files)._replace(manager="zypper", arch="aarch64")
    root = tmp_path / "root"
    rebuild(root, facts, blobs)
    assert (root / "etc/zypp/zypp.conf").read_text() == (
        "[main]\nsolver.onlyRequires=true\narch=aarch64\n"
    )
    assert (root / "etc/zypp/repos.d/sles.repo").read_text() == (
        "[SLES-Updates]\nname=Updates\nenabled=1\n"
    )
    assert (root / "etc/zypp/repos.d/local.repo").read_text() == (
        "[local]\nbaseurl=https://mirror/repo\npriority=90\n"
    )
    for rel in ("usr/lib/sysimage/rpm/Packages.db", "var/cache/zypp/solv/local/solv"):
        assert not (root / rel).is_symlink() and (root / rel).is_file()  # zypper writes there
    assert (root / "var/cache/zypp/raw/local/repodata/repomd.xml").is_symlink()
    assert (root / "var/lib/zypp").is_dir() and (root / "var/log").is_dir()
    # a solv file the node no longer lists goes; so does a repo file
    (root / "var/cache/zypp/solv/@System").mkdir()
    del files["var/cache/zypp/solv/local/solv"], files["etc/zypp/repos.d/sles.repo"]
    rebuild(root, _facts(blobs, files)._replace(manager="zypper"), blobs)
    assert not (root / "var/cache/zypp/solv/local").exists()
    assert not (root / "var/cache/zypp/solv/@System").exists()
    assert not (root / "etc/zypp/repos.d/sles.repo").exists()
    assert (root / "etc/zypp/zypp.conf").read_text() == "[main]\nsolver.onlyRequires=true\n"
