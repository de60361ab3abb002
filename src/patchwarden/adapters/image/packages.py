"""An image's OS and installed packages from the files its layers hold.

- dpkg: ``var/lib/dpkg/status`` and the ``var/lib/dpkg/status.d/*`` files of distroless
  images, read with the apt adapter's own parsers (:mod:`..os.apt.index`,
  :mod:`..os.apt.facts`);
- rpm: the database files are written to a private temporary root and queried with
  ``rpm --root … --dbpath …`` (:mod:`..os.dnf.rpmdb`), as a host scan does;
- apk: ``lib/apk/db/installed``, read with the apk adapter's parser (:mod:`..os.apk.db`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from patchwarden.adapters.image.layers import WANTED_DIRS, LayerFiles
from patchwarden.adapters.os.apt.facts import installed_entries, package_facts
from patchwarden.adapters.os.apt.index import iter_paragraphs
from patchwarden.adapters.os.dnf import facts as dnf_facts
from patchwarden.adapters.os.dnf import rpmdb
from patchwarden.adapters.os.osrelease import os_info_from_fields, with_point_release
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo
from patchwarden.errors import InputError
from patchwarden.osnames import parse_os_release
from patchwarden.ports import Runner

RPM_DIRS = ("var/lib/rpm", "usr/lib/sysimage/rpm")
_RPM_DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
APK_DATABASES = ("lib/apk/db/installed", "usr/lib/apk/db/installed")


def image_os(files: LayerFiles, label: str) -> OsInfo:
    """The :class:`OsInfo` of the image's ``etc/os-release`` (or ``usr/lib/os-release``)."""
    for path in ("etc/os-release", "usr/lib/os-release"):
        data = files.read(path)
        if data is not None:
            fields = parse_os_release(data.decode("utf-8", errors="replace"))
            return with_point_release(os_info_from_fields(fields), lambda name: _text(files, name))
    raise InputError(f"{label}: no etc/os-release in the image: cannot tell its OS")


def _text(files: LayerFiles, path: str) -> str | None:
    data = files.read(path)
    return None if data is None else data.decode("utf-8", errors="replace")


def dpkg_paragraphs(files: LayerFiles) -> list[dict[str, str]] | None:
    """Every paragraph of the dpkg status database and of ``status.d`` (distroless);
    ``None`` when the image has neither."""
    status = files.read("var/lib/dpkg/status")
    extra = {
        name: data
        for name, data in files.listdir(WANTED_DIRS[0]).items()
        if not name.endswith(".md5sums")
    }
    if status is None and not extra:
        return None
    found = list(iter_paragraphs(status or b""))
    for data in extra.values():
        found.extend(iter_paragraphs(data))
    return found


def dpkg_packages(paragraphs: list[dict[str, str]], native: str) -> tuple[InstalledPackage, ...]:
    """The installed packages of the status paragraphs (dpkg's architecture as ``native``
    when it is installed, else the image's)."""
    for fields in paragraphs:
        if fields.get("Package") == "dpkg" and fields.get("Architecture"):
            native = fields["Architecture"]
            break
    entries = installed_entries(paragraphs, native)
    return tuple(
        InstalledPackage(package_facts(fields, None, [], name, arch), state)
        for (name, arch), (fields, state) in sorted(entries.items())
    )


def has_rpmdb(files: LayerFiles) -> bool:
    """Whether the image holds an rpm database."""
    return any(name in _RPM_DB_FILES for d in RPM_DIRS for name in files.listdir(d))


def rpm_packages(files: LayerFiles, runner: Runner) -> tuple[InstalledPackage, ...]:
    """The packages of the image's rpm database, read by ``rpm`` from a temporary copy."""
    with tempfile.TemporaryDirectory(prefix="patchwarden-rpmdb-") as tmp:
        for location in RPM_DIRS:
            contents = files.listdir(location)
            if not contents:
                continue
            target = Path(tmp, location)
            target.mkdir(parents=True, exist_ok=True)
            for name, data in contents.items():
                (target / name).write_bytes(data)
        dbpath = rpmdb.find_dbpath(Path(tmp))
        if dbpath is None:
            return ()
        headers = rpmdb.installed(runner, tmp, dbpath)
    return tuple(
        InstalledPackage(
            dnf_facts.package(
                h.name, h.arch, (h.epoch, h.version, h.release, h.arch), h.sourcerpm, "", {}
            )
        )
        for h in sorted(headers, key=lambda h: (h.name, h.arch, h.installtime))
    )


def apk_packages(files: LayerFiles, ref: str) -> tuple[InstalledPackage, ...] | None:
    """The packages of the apk database (``None``: no apk database)."""
    from patchwarden.adapters.os.apk import db as apk_db
    from patchwarden.adapters.os.apk.manager import package

    for path in APK_DATABASES:
        data = files.read(path)
        if data is not None:
            records = apk_db.parse(data.decode("utf-8", errors="replace"), f"{ref}: /{path}")
            ordered = sorted(records, key=lambda r: (r.name, r.arch))
            return tuple(InstalledPackage(package(r)) for r in ordered)
    return None


def inventory(
    os_info: OsInfo, ref: str, scheme: str, installed: tuple[InstalledPackage, ...]
) -> Inventory:
    """The inventory of an image: its packages, no updates."""
    return Inventory(
        os=os_info, hostname=ref, root=ref, scheme=scheme, installed=installed, updates=()
    )
