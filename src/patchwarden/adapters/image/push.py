"""Pushing an image of an OCI layout directory to a registry, with ``skopeo copy``.

``oci:LAYOUT:TAG`` goes to ``docker://DESTINATION:T`` for each of the tags, with
``--preserve-digests`` (the registry holds the manifest byte for byte, so its digest is the
layout's) and ``--digestfile`` (the digest skopeo pushed).  The first tag is a full copy;
every further tag is one more ``skopeo copy`` of the same image, which uploads no blob again
(skopeo finds them in the repository and only PUTs the manifest under the new tag).  That
costs one process per tag but keeps one code path for every registry and every kind of
authentication skopeo knows (``--dest-authfile``), where PUTting the manifest ourselves
would need push-scope tokens of our own; each copy must report the same digest.

Only argv lists are run (never a shell).  A failure is an :class:`EnvironmentProblem`
carrying skopeo's last error line with credentials removed.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchwarden.adapters.image.manifests import REF_NAME
from patchwarden.adapters.image.reference import parse
from patchwarden.adapters.runner import LocalRunner
from patchwarden.errors import EnvironmentProblem, InputError
from patchwarden.ports import Runner

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_FATAL = re.compile(r'level=(?:fatal|error) msg="((?:[^"\\]|\\.)*)"')
_USERINFO = re.compile(r"(\w+://)[^/@\s]+@")
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
TIMEOUT = 1800.0
"""Seconds one ``skopeo copy`` may take."""


@dataclass(frozen=True)
class PushResult:
    """What :func:`push` put in the registry."""

    destination: str
    """``HOST[:PORT]/REPOSITORY`` (without ``docker://`` and without a tag)."""
    tags: tuple[str, ...]
    digest: str
    """``sha256:…`` of the manifest every tag now points at."""


def push(
    layout: Path,
    tag: str,
    destination: str,
    *,
    tags: Sequence[str],
    tls_verify: bool = True,
    credentials_file: str = "",
    runner: Runner | None = None,
    timeout: float = TIMEOUT,
) -> PushResult:
    """Copy ``oci:<layout>:<tag>`` to ``docker://<destination>:<t>`` for each ``t`` of
    ``tags``.  ``tls_verify=False`` allows a plain-HTTP or self-signed registry;
    ``credentials_file`` is a container auth file (``skopeo login``'s ``auth.json``)."""
    names = _check_tags(tags)
    where = _check_destination(destination)
    oci_digest(layout, tag)  # an InputError before skopeo runs when the layout has no such tag
    if ":" in str(layout.resolve()):
        raise InputError(f"{layout}: skopeo cannot name an OCI layout whose path has a colon")
    if credentials_file and not Path(credentials_file).is_file():
        raise InputError(f"--dest-authfile: no such file {credentials_file}")
    run = runner or LocalRunner()
    secrets = _secrets(credentials_file)
    digest = ""
    with tempfile.TemporaryDirectory(prefix="patchwarden-push-") as work:
        for number, name in enumerate(names):
            digestfile = Path(work) / f"digest-{number}"
            argv = ["skopeo", "copy", "--preserve-digests", "--digestfile", str(digestfile)]
            if not tls_verify:
                argv.append("--dest-tls-verify=false")
            if credentials_file:
                argv += ["--dest-authfile", credentials_file]
            target = f"docker://{where}:{name}"
            argv += [f"oci:{layout.resolve()}:{tag}", target]
            try:
                result = run.run(argv, timeout=timeout)
            except EnvironmentProblem as exc:
                if str(exc).startswith("skopeo: command not found"):
                    raise EnvironmentProblem(
                        "skopeo: command not found (apt-get install skopeo)"
                    ) from None
                raise
            if result.returncode != 0:
                why = _last_error(result.stderr or result.stdout, secrets)
                raise EnvironmentProblem(f"skopeo copy to {target} failed: {why}")
            pushed = _read_digest(digestfile, target)
            if digest and pushed != digest:
                raise EnvironmentProblem(
                    f"skopeo copy to {target} pushed {pushed}, not {digest} as for {names[0]}"
                )
            digest = pushed
    return PushResult(destination=where, tags=tuple(names), digest=digest)


def oci_digest(layout: Path, tag: str) -> str:
    """The digest of the manifest (or index) ``index.json`` of the OCI layout ``layout``
    names ``tag`` (annotation ``org.opencontainers.image.ref.name``)."""
    index_path = layout / "index.json"
    try:
        raw: Any = json.loads(index_path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{layout}: not an OCI layout (no index.json)") from None
    except OSError as exc:
        raise InputError(f"{index_path}: cannot read ({exc.strerror})") from None
    except (ValueError, RecursionError):
        raise InputError(f"{index_path}: not valid JSON") from None
    entries = raw.get("manifests") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{index_path}: no manifests list")
    found = {
        str(entry.get("digest"))
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("annotations"), dict)
        and entry["annotations"].get(REF_NAME) == tag
    }
    if not found:
        raise InputError(f"{layout}: no tag {tag!r} in the OCI layout")
    if len(found) > 1:
        raise InputError(f"{layout}: tag {tag!r} names {len(found)} different manifests")
    digest = found.pop()
    if not _DIGEST.fullmatch(digest):
        raise InputError(f"{index_path}: tag {tag!r} has a malformed digest {digest!r}")
    return digest


def _check_tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise InputError("tags: a list of tags, not one string")
    names = list(dict.fromkeys(tags))  # in order, without repeats
    if not names:
        raise InputError("push: at least one tag is required")
    for name in names:
        if not _TAG.fullmatch(name):
            raise InputError(
                f"not a valid tag {name!r} (letters, digits, _ . -; at most 128; "
                "not starting with . or -)"
            )
    return names


def _check_destination(destination: str) -> str:
    """``HOST[:PORT]/REPOSITORY`` of ``destination`` (``docker://`` prefix allowed)."""
    bare = destination.removeprefix("docker://")
    if not bare or "@" in bare or any(c.isspace() for c in bare):
        raise InputError(f"{destination!r}: not a repository (HOST[:PORT]/REPOSITORY)")
    if ":" in bare.rsplit("/", 1)[-1]:
        raise InputError(f"{destination}: give the repository without a tag (the tags apart)")
    parse(f"docker://{bare}")  # an InputError for an invalid host or repository name
    return bare


def _read_digest(path: Path, target: str) -> str:
    try:
        digest = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        digest = ""
    if not _DIGEST.fullmatch(digest):
        raise EnvironmentProblem(f"skopeo copy to {target}: no manifest digest reported")
    return digest


def _secrets(credentials_file: str) -> list[str]:
    """The strings of an auth file that must never appear in a message: each ``auth``
    value, and the user:password and password it decodes to."""
    if not credentials_file:
        return []
    try:
        raw = json.loads(Path(credentials_file).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return []
    auths = raw.get("auths") if isinstance(raw, dict) else None
    found: list[str] = []
    for entry in auths.values() if isinstance(auths, dict) else ():
        if not isinstance(entry, dict):
            continue
        for key in ("auth", "identitytoken", "registrytoken", "password"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                found.append(value)
        auth = entry.get("auth")
        if isinstance(auth, str):
            try:
                user_password = base64.b64decode(auth).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            found.append(user_password)
            password = user_password.partition(":")[2]
            if password:
                found.append(password)
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def _last_error(output: str, secrets: Sequence[str]) -> str:
    """skopeo's last non-empty line (its ``msg="…"`` when it logged one), credentials
    removed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    match = _FATAL.search(last)
    if match:
        last = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
    for secret in secrets:
        last = last.replace(secret, "***")
    last = _USERINFO.sub(r"\1***@", last)
    last = _AUTH_HEADER.sub(r"\1 ***", last)
    return " ".join(last.split())
