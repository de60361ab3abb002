"""Sandbox nodes with REAL rpm and dnf: tiny .rpms, local repositories with updateinfo, roots.

A library for integration tests (the rpm counterpart of :mod:`sandbox`)::

    repo = RpmRepo(tmp / "repo")
    repo.add(build_rpm(tmp / "work", "foo", "1.1", "1"))
    repo.publish([NoticeSpec("ALAS2023-2025-001", "security", "Critical", packages=[...])])
    node = RpmNode(tmp / "node", repo, os_id="amzn")
    node.install("foo-1.0-1")          # real dnf --installroot
    node.rpm_versions()                 # {"foo": ["1.0-1"]}
    node.pm().collect()                 # the product's dnf adapter on that root

Packages are built with ``rpmbuild`` (a minimal spec, ``HOME`` and ``_topdir`` in a temp
dir so the host gets no ``~/.rpmdb``), published with ``createrepo_c`` plus ``modifyrepo_c``
for updateinfo.xml.  dnf always runs through :func:`patchwarden.adapters.os.dnf_exec.
dnf_command`, exactly as the product runs it: the root's rpm database is ``var/lib/rpm``
(as on a real RHEL-family system) and dnf's cache is ``var/cache/dnf`` inside the root.

The fixtures at the end are imported by the ``test_dnf_*`` modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from sandbox import run  # one runner for both sandboxes

from patchwarden.adapters.os.dnf.execute import DnfTarget, dnf_command
from patchwarden.adapters.os.dnf.manager import DnfPackageManager

RPM_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
"""The pinned clock of the rpm integration tests (notice dates are in Jan/Feb 2025)."""
RPM_NOW_ISO = "2025-03-01T12:00:00Z"
DBPATH = "/var/lib/rpm"

_SPEC = """\
Name: %{pname}
Version: %{pver}
Release: %{prel}
%{?pepoch:Epoch: %{pepoch}}
Summary: sandbox package %{pname}
License: MIT
BuildArch: noarch
%{?preq:Requires: %{preq}}
%description
Built by the Patchwarden integration tests.
%install
mkdir -p %{buildroot}/usr/share/%{name}
echo %{name} > %{buildroot}/usr/share/%{name}/%{version}-%{release}
%files
/usr/share/%{name}/%{version}-%{release}
"""


def missing_rpm_tools() -> list[str]:
    """Host tools the rpm sandbox needs that are not installed (``make test`` installs them)."""
    tools = ("rpm", "rpmbuild", "dnf", "createrepo_c", "modifyrepo_c")
    return [t for t in tools if shutil.which(t) is None]


# -- packages and repositories ---------------------------------------------------------------


@dataclass(frozen=True)
class RpmSpec:
    """One noarch .rpm to build."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    requires: str | None = None

    @property
    def evr(self) -> str:
        """``[epoch:]version-release`` as Patchwarden reports it."""
        base = f"{self.version}-{self.release}"
        return f"{self.epoch}:{base}" if self.epoch else base

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.noarch.rpm"


def build_rpm(workdir: Path, spec: RpmSpec) -> Path:
    """A tiny real noarch .rpm built with ``rpmbuild``; returns its path."""
    workdir = Path(workdir)
    home = workdir / "home"  # rpmbuild would otherwise create the host's ~/.rpmdb
    home.mkdir(parents=True, exist_ok=True)
    spec_file = workdir / "sandbox.spec"
    if not spec_file.exists():
        spec_file.write_text(_SPEC)
    defines = {
        "_topdir": str(workdir / "top"),
        "pname": spec.name,
        "pver": spec.version,
        "prel": spec.release,
        "_build_id_links": "none",
        "dist": "%{nil}",
        **({"pepoch": str(spec.epoch)} if spec.epoch is not None else {}),
        **({"preq": spec.requires} if spec.requires else {}),
    }
    argv = ["rpmbuild", "-bb", "--quiet"]
    for key, value in defines.items():
        argv += ["--define", f"{key} {value}"]
    run([*argv, str(spec_file)], env={"HOME": str(home)})
    return workdir / "top/RPMS/noarch" / spec.filename


@dataclass(frozen=True)
class NoticeSpec:
    """One ``<update>`` of updateinfo.xml."""

    id: str
    type: str
    severity: str = ""
    issued: str = ""
    """As written in the file: ``2025-01-10 12:00:00`` or epoch seconds ``1736942400``."""
    updated: str = ""
    cves: tuple[str, ...] = ()
    bugzillas: tuple[str, ...] = ()
    packages: tuple[RpmSpec, ...] = ()


def updateinfo_xml(notices: Sequence[NoticeSpec]) -> str:
    """An updateinfo.xml document shaped like the ones ALAS and RHSA repositories publish."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for n in notices:
        out.append(f'  <update author="tests" status="final" type="{n.type}" version="2.0">')
        out.append(f"    <id>{escape(n.id)}</id>")
        out.append(f"    <title>{escape(n.id)}: {n.type} update</title>")
        if n.issued:
            out.append(f"    <issued date={quoteattr(n.issued)}/>")
        if n.updated:
            out.append(f"    <updated date={quoteattr(n.updated)}/>")
        if n.severity:
            out.append(f"    <severity>{escape(n.severity)}</severity>")
        out.append("    <references>")
        for cve in n.cves:
            href = f"https://www.cve.org/CVERecord?id={cve}"
            out.append(f'      <reference href="{href}" id="{cve}" title="{cve}" type="cve"/>')
        for bug in n.bugzillas:
            href = f"https://bugzilla.example/show_bug.cgi?id={bug}"
            out.append(f'      <reference href="{href}" id="{bug}" title="" type="bugzilla"/>')
        out.append("    </references>")
        out.append('    <pkglist><collection short="sandbox"><name>sandbox</name>')
        for p in n.packages:
            out.append(
                f'      <package name="{p.name}" epoch="{p.epoch or 0}" version="{p.version}" '
                f'release="{p.release}" arch="noarch"><filename>{p.filename}</filename></package>'
            )
        out.append("    </collection></pkglist>")
        out.append("  </update>")
    out.append("</updates>")
    return "\n".join(out) + "\n"


class RpmRepo:
    """A local rpm repository: the .rpms at the top, ``repodata/`` from createrepo_c."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def add(self, *rpms: Path) -> None:
        """Put .rpms into the repository (call :meth:`publish` afterwards)."""
        for rpm in rpms:
            shutil.copy2(rpm, self.path / Path(rpm).name)

    def remove(self, filename: str) -> None:
        (self.path / filename).unlink()

    def publish(self, notices: Sequence[NoticeSpec] = (), *, updateinfo: str = "") -> None:
        """Regenerate ``repodata/`` and, with ``notices`` (or a raw ``updateinfo`` text), add
        updateinfo.xml (modifyrepo_c)."""
        shutil.rmtree(self.path / "repodata", ignore_errors=True)
        run(["createrepo_c", "--quiet", str(self.path)])
        text = updateinfo or (updateinfo_xml(notices) if notices else "")
        if text:
            source = self.path.parent / f"{self.path.name}-updateinfo" / "updateinfo.xml"
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(text)
            run(["modifyrepo_c", str(source), str(self.path / "repodata")])

    def clone(self, path: Path) -> RpmRepo:
        """A copy to change without touching this one."""
        shutil.copytree(self.path, path)
        return RpmRepo(path)


# -- nodes -----------------------------------------------------------------------------------

OS_RELEASES: dict[str, str] = {
    "amzn": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n'
    'VERSION_ID="2023"\nPLATFORM_ID="platform:al2023"\n'
    'PRETTY_NAME="Amazon Linux 2023.6.20250107"\nANSI_COLOR="0;33"\n',
    "rocky": 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\n'
    'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\n'
    'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
}
"""os-release files of the supported sandbox systems (as the real images ship them)."""

DNF_CONF = "[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\n"
"""A real system's etc/dnf/dnf.conf (the repo file below says gpgcheck=0)."""


class RpmNode:
    """A sandbox root configured like a real RHEL-family system."""

    def __init__(
        self, root: Path, repo: RpmRepo, *, os_id: str = "amzn", hostname: str | None = None
    ) -> None:
        self.root = Path(root)
        self.repo = repo
        for folder in ("etc/yum.repos.d", "etc/dnf", "var/lib/rpm", "var/cache/dnf"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "etc/os-release").write_text(OS_RELEASES[os_id])
        (self.root / "etc/hostname").write_text(f"{hostname or self.root.name}\n")
        (self.root / "etc/dnf/dnf.conf").write_text(DNF_CONF)
        self.set_repo(repo)
        self.releasever = "2023" if os_id == "amzn" else "9"

    def set_repo(self, repo: RpmRepo, repoid: str = "sandbox") -> None:
        """Make ``repo`` the root's only repository (``etc/yum.repos.d/local.repo``)."""
        self.repo = repo
        (self.root / "etc/yum.repos.d/local.repo").write_text(
            f"[{repoid}]\nname=Sandbox packages\nbaseurl={repo.url}\nenabled=1\ngpgcheck=0\n"
            "metadata_expire=6h\n"
        )

    def dnf(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run dnf on this root with the product's own options."""
        target = DnfTarget(str(self.root), DBPATH, self.releasever)
        with dnf_command(target) as (argv, env):
            return run([*argv, *args], env=env, check=check)

    def install(self, *specs: str) -> None:
        """``dnf -y install`` into the root (its initial package state)."""
        if specs:
            self.dnf("-y", "--setopt=install_weak_deps=False", "install", *specs)

    def makecache(self) -> None:
        self.dnf("-y", "makecache", "--refresh")

    def rpm_versions(self) -> dict[str, list[str]]:
        """{name: [evr, …]} in the root's rpm database (``rpm --root -qa``)."""
        qf = "%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}\\n"
        out = run(["rpm", "--root", str(self.root), "--dbpath", DBPATH, "-qa", "--qf", qf])
        found: dict[str, list[str]] = {}
        for line in out.stdout.splitlines():
            name, epoch, vr = line.split()
            found.setdefault(name, []).append(vr if epoch == "0" else f"{epoch}:{vr}")
        return {name: sorted(evrs) for name, evrs in sorted(found.items())}

    def rpm_query(self, *nevras: str) -> subprocess.CompletedProcess[str]:
        """``rpm --root R --dbpath … -q NEVRA…`` (exit 0 only when all are installed)."""
        return run(
            ["rpm", "--root", str(self.root), "--dbpath", DBPATH, "-q", *nevras], check=False
        )

    def pm(self, cache_dir: Path | None = None) -> DnfPackageManager:
        """The product's dnf adapter on this root."""
        return DnfPackageManager(str(self.root), cache_dir=str(cache_dir) if cache_dir else None)


# -- the standard package set ----------------------------------------------------------------

FOO_10 = RpmSpec("foo", "1.0", "1.amzn2023")
FOO_11 = RpmSpec("foo", "1.1", "1.amzn2023")  # Critical security notice: the minimal fix
FOO_12 = RpmSpec("foo", "1.2", "1.amzn2023")  # no notice
BAR_20, BAR_21 = RpmSpec("bar", "2.0", "1"), RpmSpec("bar", "2.1", "1")  # bugfix
BAZ_10, BAZ_11 = RpmSpec("baz", "1.0", "1"), RpmSpec("baz", "1.1", "1")  # no notice
QUX_30, QUX_31 = RpmSpec("qux", "3.0", "1"), RpmSpec("qux", "3.1", "1")  # Important, recent
LOW_10, LOW_11 = RpmSpec("low", "1.0", "1"), RpmSpec("low", "1.0", "2")  # security Low
EPO_10, EPO_09 = RpmSpec("epo", "1.0", "1"), RpmSpec("epo", "0.9", "1", epoch=1)  # enhancement
KERNEL_0 = RpmSpec("kernel", "6.1.0", "1.amzn2023")
KERNEL_1 = RpmSpec("kernel", "6.1.1", "1.amzn2023")  # Important security, install-only
APP_10 = RpmSpec("app", "1.0", "1")
APP_11 = RpmSpec("app", "1.1", "1", requires="newdep")  # Critical, pulls in a new package
NEWDEP = RpmSpec("newdep", "1.0", "1")
CALM = RpmSpec("calm", "1.0", "1")  # no update at all

STANDARD_RPMS = (
    *(FOO_10, FOO_11, FOO_12, BAR_20, BAR_21, BAZ_10, BAZ_11, QUX_30, QUX_31),
    *(LOW_10, LOW_11, EPO_10, EPO_09, KERNEL_0, KERNEL_1, APP_10, APP_11, NEWDEP, CALM),
)

STANDARD_NOTICES = (
    NoticeSpec(
        "ALAS2023-2025-001",
        "security",
        "Critical",
        issued="2025-01-10 12:00:00",
        updated="2025-01-12 12:00:00",
        cves=("CVE-2025-0001", "CVE-2025-0002"),
        packages=(FOO_11,),
    ),
    NoticeSpec(
        "ALAS2023-2025-002",
        "bugfix",
        "",
        issued="1736942400",
        bugzillas=("2001",),
        packages=(BAR_21,),
    ),
    NoticeSpec(
        "ALAS2023-2025-003",
        "security",
        "Important",
        issued="2025-02-20 08:00:00",
        updated="2025-02-27 12:00:00",  # updated wins: approved only from 2025-03-06 12:00
        cves=("CVE-2025-0003",),
        packages=(QUX_31,),
    ),
    NoticeSpec(
        "ALAS2023-2025-004",
        "security",
        "Low",
        issued="2025-01-05",
        cves=("CVE-2025-0004",),
        packages=(LOW_11,),
    ),
    NoticeSpec("ALAS2023-2025-005", "enhancement", "", issued="2025-01-06", packages=(EPO_09,)),
    NoticeSpec(
        "ALAS2023-2025-006",
        "security",
        "Important",
        issued="1737000000",
        cves=("CVE-2025-0006",),
        bugzillas=("2006",),
        packages=(KERNEL_1,),
    ),
    NoticeSpec(
        "ALAS2023-2025-007",
        "security",
        "Critical",
        issued="2025-01-20 00:00:00",
        cves=("CVE-2025-0007",),
        packages=(APP_11,),
    ),
)

STANDARD_STATE = (FOO_10, BAR_20, BAZ_10, QUX_30, LOW_10, EPO_10, KERNEL_0, APP_10, CALM)
"""What a standard node has installed (the old versions)."""


def installed_state(specs: Sequence[RpmSpec]) -> dict[str, list[str]]:
    """{name: [evr]} as :meth:`RpmNode.rpm_versions` reports ``specs`` installed."""
    found: dict[str, list[str]] = {}
    for s in specs:
        found.setdefault(s.name, []).append(s.evr)
    return {name: sorted(v) for name, v in sorted(found.items())}


def build_standard_repo(path: Path, workdir: Path) -> RpmRepo:
    """Build every standard .rpm and publish them with the standard notices."""
    repo = RpmRepo(path)
    repo.add(*(build_rpm(workdir, spec) for spec in STANDARD_RPMS))
    repo.publish(STANDARD_NOTICES)
    return repo


@dataclass
class RpmNodeFactory:
    """Makes sandbox nodes on one repository: ``factory(os_id="rocky")``."""

    base: Path
    repo: RpmRepo
    count: int = 0
    state: tuple[RpmSpec, ...] = field(default=STANDARD_STATE)

    def __call__(
        self,
        packages: Sequence[RpmSpec] | None = None,
        *,
        name: str | None = None,
        os_id: str = "amzn",
        repo: RpmRepo | None = None,
    ) -> RpmNode:
        self.count += 1
        name = name or f"rpmnode{self.count}"
        node = RpmNode(self.base / name, repo or self.repo, os_id=os_id, hostname=name)
        wanted = self.state if packages is None else packages
        node.install(*(f"{s.name}-{s.evr}.noarch" for s in wanted))
        return node


# -- fixtures (imported by the test_dnf_* modules) -------------------------------------------

HOST_RPM_PLACES = (Path("/root/.rpmdb"), Path("/var/cache/dnf"), Path("/var/lib/rpm"))


def _snapshot(paths: Sequence[Path]) -> dict[str, list[str] | None]:
    found: dict[str, list[str] | None] = {}
    for p in paths:
        found[str(p)] = sorted(os.listdir(p)) if p.is_dir() else None
    home = Path.home() / ".rpmdb"
    found[str(home)] = sorted(os.listdir(home)) if home.is_dir() else None
    return found


@pytest.fixture(scope="module", autouse=True, name="host_rpm_untouched")
def host_rpm_untouched_fixture() -> Iterator[None]:
    """Nothing appears in the host's ``~/.rpmdb``, ``/var/cache/dnf`` or ``/var/lib/rpm``."""
    before = _snapshot(HOST_RPM_PLACES)
    yield
    assert _snapshot(HOST_RPM_PLACES) == before, (
        "a test created rpm/dnf state on the host: something ran rpm or dnf outside its root"
    )


@pytest.fixture(scope="session", name="rpm_ready")
def rpm_ready_fixture() -> None:
    """Skip (with the reason) where real rpm/dnf sandboxes cannot run."""
    missing = missing_rpm_tools()
    if missing:
        pytest.skip(f"missing tools for rpm sandboxes: {', '.join(missing)} (run `make test`)")
    if os.geteuid() != 0:
        pytest.skip("dnf --installroot installs need root (run the integration tests as root)")


@pytest.fixture(scope="session", name="rpm_repo")
def rpm_repo_fixture(rpm_ready: None, tmp_path_factory: pytest.TempPathFactory) -> RpmRepo:
    """The standard repository (one per xdist worker).  Read-only: clone it to change it."""
    base = tmp_path_factory.mktemp("rpm-repo")
    return build_standard_repo(base / "repo", base / "work")


@pytest.fixture(name="make_rpm_node")
def make_rpm_node_fixture(rpm_repo: RpmRepo, tmp_path: Path) -> RpmNodeFactory:
    """``make_rpm_node(os_id="rocky")``: fresh standard nodes (old versions installed)."""
    return RpmNodeFactory(tmp_path / "nodes", rpm_repo)


@pytest.fixture(name="rpm_node")
def rpm_node_fixture(make_rpm_node: RpmNodeFactory) -> RpmNode:
    """A fresh standard Amazon Linux 2023 node."""
    return make_rpm_node(name="al2023")
