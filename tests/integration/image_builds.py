"""What the image-build tests share: the local mirror tool and the check that this machine
can build images (skip locally, fail in CI where ``make test`` prepares everything)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIRROR_TOOL = REPO / "examples/images/support/local-mirror.py"
"""Makes a ``copy://`` Debian mirror from apt's cached .debs (``make image-debs``)."""


def require_image_builds() -> None:
    """Skip (fail under ``CI``) without root, the tools or the cached .debs."""
    tools = ("mmdebstrap", "umoci", "skopeo", "apt-ftparchive")
    missing = [t for t in tools if not shutil.which(t)]
    problems = [f"missing tools: {' '.join(missing)}"] if missing else []
    if os.geteuid() != 0:
        problems.append("image builds need root (chroot)")
    check = subprocess.run(
        [sys.executable, str(MIRROR_TOOL), "--check"], capture_output=True, text=True
    )
    if check.returncode != 0:
        problems.append(check.stderr.strip())
    if problems:
        if os.environ.get("CI"):
            pytest.fail("; ".join(problems) + " (make test prepares them)", pytrace=False)
        pytest.skip("; ".join(problems))


def make_mirror(target: Path) -> Path:
    """A local mirror at ``target`` (``deb [trusted=yes] copy://TARGET bookworm main``)."""
    subprocess.run([sys.executable, str(MIRROR_TOOL), str(target)], check=True, capture_output=True)
    return target
