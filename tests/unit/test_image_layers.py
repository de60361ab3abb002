"""Image layers read as streams: whiteouts, opaque directories, symlinks, compression,
digests and corrupt data (in-memory tars; no tools)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Sequence

import pytest

from patchwarden.adapters.image import layers
from patchwarden.adapters.image.layers import LayerFiles, apply_layer
from patchwarden.errors import EnvironmentProblem, InputError

Member = tuple[str, bytes | None] | tuple[str, str, str]
"""(path, content) for a file, (path, None) for a directory, (path, "->", target) symlink."""


def layer(members: Sequence[Member], *, prefix: str = "") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for m in members:
            info = tarfile.TarInfo(prefix + m[0])
            if len(m) == 3:
                info.type, info.linkname = tarfile.SYMTYPE, m[2]
                tar.addfile(info)
            elif m[1] is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
    return out.getvalue()


def build(*blobs: bytes) -> LayerFiles:
    files = LayerFiles()
    for i, blob in enumerate(blobs):
        apply_layer(files, io.BytesIO(blob), f"layer {i}")
    return files


STATUS = b"Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"


def test_only_the_wanted_files_are_kept() -> None:
    files = build(
        layer(
            [
                ("etc", None),
                ("etc/os-release", b"ID=debian\n"),
                ("etc/hostname", b"box\n"),
                ("usr/bin/huge", b"x" * 10000),
                ("var/lib/dpkg/status", STATUS),
                ("var/lib/dpkg/status.d/base", STATUS),
                ("var/lib/dpkg/status.d/sub/deeper", b"no"),
            ],
            prefix="./",
        )
    )
    assert set(files.entries) == {
        "etc/os-release",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/base",
    }
    assert files.read("etc/os-release") == b"ID=debian\n"
    assert files.listdir("var/lib/dpkg/status.d") == {"base": STATUS}


def test_a_whiteout_deletes_a_lower_file_and_a_new_one_replaces_it() -> None:
    lower = layer([("var/lib/dpkg/status.d/a", b"A"), ("var/lib/dpkg/status.d/b", b"B")])
    upper = layer([("var/lib/dpkg/status.d/.wh.a", b""), ("var/lib/dpkg/status.d/c", b"C")])
    files = build(lower, upper)
    assert files.listdir("var/lib/dpkg/status.d") == {"b": b"B", "c": b"C"}


def test_a_whiteout_of_a_directory_deletes_everything_under_it() -> None:
    lower = layer([("var/lib/rpm/rpmdb.sqlite", b"db"), ("var/lib/dpkg/status", STATUS)])
    files = build(lower, layer([("var/lib/.wh.rpm", b"")]))
    assert set(files.entries) == {"var/lib/dpkg/status"}


def test_an_opaque_directory_hides_the_lower_layers_but_not_its_own_layer() -> None:
    lower = layer([("var/lib/dpkg/status.d/a", b"A"), ("var/lib/dpkg/status.d/b", b"B")])
    upper = layer(
        [
            ("var/lib/dpkg/status.d/c", b"C"),  # before the marker in tar order: still kept
            ("var/lib/dpkg/status.d/.wh..wh..opq", b""),
            ("var/lib/dpkg/status.d/d", b"D"),
        ]
    )
    files = build(lower, upper)
    assert files.listdir("var/lib/dpkg/status.d") == {"c": b"C", "d": b"D"}


def test_a_whiteout_does_not_hide_its_own_layers_file() -> None:
    lower = layer([("var/lib/dpkg/status", b"old")])
    upper = layer([("var/lib/dpkg/status", b"new"), ("var/lib/dpkg/.wh.status", b"")])
    assert build(lower, upper).read("var/lib/dpkg/status") == b"new"


def test_a_later_layer_overrides_and_a_third_restores() -> None:
    one = layer([("var/lib/dpkg/status", b"1")])
    two = layer([("var/lib/dpkg/.wh.status", b"")])
    three = layer([("var/lib/dpkg/status", b"3")])
    assert build(one, two).read("var/lib/dpkg/status") is None
    assert build(one, two, three).read("var/lib/dpkg/status") == b"3"


def test_symlinks_are_followed_inside_the_image() -> None:
    files = build(
        layer(
            [
                ("usr/lib/os-release", b"ID=debian\n"),
                ("etc/os-release", "->", "../usr/lib/os-release"),
                ("usr/lib/sysimage/rpm/rpmdb.sqlite", b"db"),
                ("var/lib/rpm", "->", "/usr/lib/sysimage/rpm"),
            ]
        )
    )
    assert files.read("etc/os-release") == b"ID=debian\n"
    assert files.listdir("var/lib/rpm") == {"rpmdb.sqlite": b"db"}


def test_a_directory_replaced_by_a_file_hides_what_was_under_it() -> None:
    lower = layer([("var/lib/rpm/Packages", b"bdb")])
    upper = layer([("var/lib/rpm", "->", "../../usr/lib/sysimage/rpm")])
    files = build(lower, upper)
    assert files.listdir("var/lib/rpm") == {}
    assert "var/lib/rpm/Packages" not in files.entries


def test_a_directory_replaces_a_lower_symlink() -> None:
    lower = layer([("etc/os-release", "->", "../usr/lib/os-release")])
    upper = layer([("etc/os-release", None)])
    assert "etc/os-release" not in build(lower, upper).entries


def test_symlink_loops_end() -> None:
    files = build(layer([("etc/os-release", "->", "os-release")]))
    assert files.read("etc/os-release") is None


def test_gzip_layers_and_their_digest_are_checked() -> None:
    blob = gzip.compress(layer([("var/lib/dpkg/status", STATUS)]))
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    files = LayerFiles()
    assert apply_layer(files, io.BytesIO(blob), "l", digest) == len(blob)
    assert files.read("var/lib/dpkg/status") == STATUS
    with pytest.raises(InputError, match="does not match its digest"):
        apply_layer(LayerFiles(), io.BytesIO(blob), "l", "sha256:" + "0" * 64)


@pytest.mark.parametrize(
    "blob",
    [
        gzip.compress(layer([("var/lib/dpkg/status", STATUS)]))[:-30],  # truncated
        b"\x1f\x8b\x08\x00garbage" * 10,  # gzip header, corrupt body
        b"not a tar at all" * 100,
    ],
)
def test_corrupt_layers_are_one_input_error(blob: bytes) -> None:
    with pytest.raises(InputError, match=r"^bad layer: "):
        apply_layer(LayerFiles(), io.BytesIO(blob), "bad layer")


def test_zstd_layers_without_zstandard_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_zstandard(name: str, *args: object, **kwargs: object) -> object:
        if name == "zstandard":
            raise ModuleNotFoundError("No module named 'zstandard'", name="zstandard")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_zstandard)
    blob = b"\x28\xb5\x2f\xfd" + b"\x00" * 64
    with pytest.raises(EnvironmentProblem, match="zstandard"):
        apply_layer(LayerFiles(), io.BytesIO(blob), "zl")


def test_zstd_layers_with_zstandard() -> None:
    import zstandard  # a dependency: never skipped

    blob = zstandard.ZstdCompressor().compress(layer([("var/lib/dpkg/status", STATUS)]))
    files = LayerFiles()
    apply_layer(files, io.BytesIO(blob), "zl")
    assert files.read("var/lib/dpkg/status") == STATUS


def test_normalize() -> None:
    assert layers.normalize("./etc/os-release") == "etc/os-release"
    assert layers.normalize("/var/../etc/x") == "etc/x"
    assert layers.normalize("./") == ""


def test_an_oversized_package_database_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "MAX_FILE", 10)
    blob = layer([("var/lib/dpkg/status", STATUS)])
    with pytest.raises(InputError, match=r"^big: var/lib/dpkg/status: 0 MiB, too large"):
        apply_layer(LayerFiles(), io.BytesIO(blob), "big")
