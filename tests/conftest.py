"""Suite-wide isolation: nothing a test runs may read or write the developer's own data.

Every default path (state.db, vulndb.sqlite, the server database, inventory caches) lives
under ``$PATCHWARDEN_HOME``; the suite points it at a fresh temporary directory per process
(each xdist worker gets its own), so a real vulnerability database or server database in
``~/.local/share/patchwarden`` never leaks into a test. Tests that need their own home still
set it themselves.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HOME = tempfile.mkdtemp(prefix="patchwarden-test-home-")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["PATCHWARDEN_HOME"] = _HOME


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)
