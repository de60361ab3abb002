"""Where the feed fixtures live (tests must not read ../shared at run time)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
