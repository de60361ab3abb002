"""EC2 Image Builder versions (reference §11), pure.

- :class:`SemanticVersion` — ``major.minor.patch``, each an integer 0..2^30-1 without
  leading zeros: the version a user gives a recipe or a component;
- :class:`ImageVersion` — ``major.minor.patch/build``: an image's version, the build number
  (>= 1) assigned by the builder; :attr:`ImageVersion.tag` is its OCI-tag form ``1.2.3-4``;
- :class:`VersionSelector` — ``1.2.3``, ``1.2.x``, ``1.x.x``, ``x.x.x`` (``x`` only as a
  suffix: ``x.2.x`` is an error) or ``1.2.3/4`` (exactly one build); a wildcard resolves to
  the newest match (:func:`newest`: given 2.2.4, 1.7.8 and 1.6.8, ``1.x.x`` → 1.7.8);
- :func:`parse_named` — ``web-base:1.x.x``, ``web-base/1.x.x``, ``web-base`` (any version)
  or an Image Builder ARN ``arn:aws:imagebuilder:REGION:ACCOUNT:image/web-base/1.x.x``.

Every malformed text raises :class:`ValueError` with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

MAX_PART = 2**30 - 1
"""The largest major, minor, patch (and build) number."""

NAME_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,127}"
"""An Image Builder resource name: 1-128 characters of a-z A-Z 0-9 _ - . (letter or digit
first)."""
_NAME = re.compile(f"^{NAME_PATTERN}$")
NAME_RULE = "1-128 characters of a-z A-Z 0-9 _ - . (a letter or digit first)"

_NUMBER = r"(0|[1-9][0-9]*)"
_SEMVER = re.compile(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}$")
_PART = re.compile(rf"^(?:{_NUMBER}|x)$")
_BUILD = re.compile(r"^[1-9][0-9]*$")
_ARN = re.compile(
    r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]*:[0-9a-z-]*:"
    r"(?P<resource>[a-z-]+)/(?P<rest>.+)$"
)
ARN_RESOURCES = ("image", "component", "image-recipe")
"""The ARN resource types :func:`parse_named` reads (name and version follow them)."""


def _number(text: str, whole: str) -> int:
    value = int(text)
    if value > MAX_PART:
        raise ValueError(f"each part must be at most {MAX_PART}, got {whole!r}")
    return value


@dataclass(frozen=True, order=True)
class SemanticVersion:
    """``major.minor.patch`` (ordered numerically)."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemanticVersion:
        """``1.2.3`` → SemanticVersion(1, 2, 3); ValueError for anything else."""
        match = _SEMVER.match(text)
        if not match:
            raise ValueError(f"must be major.minor.patch (1.0.0), got {text!r}")
        major, minor, patch = (_number(part, text) for part in match.groups())
        return cls(major, minor, patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, order=True)
class ImageVersion:
    """An image's version ``x.y.z/build``: the recipe's semantic version and the build
    number the builder assigned (>= 1).  Ordered by (semantic version, build)."""

    semantic: SemanticVersion
    build: int

    @classmethod
    def parse(cls, text: str) -> ImageVersion:
        """``1.2.3/4`` → ImageVersion(SemanticVersion(1, 2, 3), 4)."""
        semantic, slash, build = text.partition("/")
        if not slash or not _BUILD.match(build):
            raise ValueError(f"must be major.minor.patch/build (1.0.0/1), got {text!r}")
        return cls(SemanticVersion.parse(semantic), _number(build, text))

    def __str__(self) -> str:
        return f"{self.semantic}/{self.build}"

    @property
    def tag(self) -> str:
        """``1.2.3-4``: the version as an OCI tag (a tag cannot hold ``/``)."""
        return f"{self.semantic}-{self.build}"


V = TypeVar("V", SemanticVersion, ImageVersion)


@dataclass(frozen=True)
class VersionSelector:
    """Which versions a reference accepts: ``parts`` are (major, minor, patch) with
    ``None`` for an ``x``; ``build`` narrows an exact version to one image build."""

    text: str
    parts: tuple[int | None, int | None, int | None]
    build: int | None = None

    @classmethod
    def parse(cls, text: str) -> VersionSelector:
        """``1.2.3``, ``1.2.x``, ``1.x.x``, ``x.x.x`` or ``1.2.3/4``."""
        version, slash, build_text = text.partition("/")
        pieces = version.split(".")
        if len(pieces) != 3 or not all(_PART.match(piece) for piece in pieces):
            raise ValueError(
                "must be a version (1.2.3), a wildcard (1.2.x, 1.x.x, x.x.x) "
                f"or a build (1.2.3/4), got {text!r}"
            )
        parts = tuple(None if piece == "x" else _number(piece, text) for piece in pieces)
        first_x = parts.index(None) if None in parts else 3
        if any(part is not None for part in parts[first_x:]):
            raise ValueError(f"x may only stand at the end (1.x.x, 1.2.x), got {text!r}")
        build: int | None = None
        if slash:
            if first_x < 3:
                raise ValueError(f"a build needs an exact version (1.2.3/4), got {text!r}")
            if not _BUILD.match(build_text):
                raise ValueError(f"the build must be an integer >= 1 (1.2.3/4), got {text!r}")
            build = _number(build_text, text)
        return cls(text, (parts[0], parts[1], parts[2]), build)

    def matches(self, version: SemanticVersion | ImageVersion) -> bool:
        """Whether ``version`` is selected.  The build narrows image versions only: a plain
        SemanticVersion (a recipe's or component's) is matched on its three parts, so an
        ARN's ``…/1.0.0/1`` still names component 1.0.0."""
        semantic = version.semantic if isinstance(version, ImageVersion) else version
        numbers = (semantic.major, semantic.minor, semantic.patch)
        if any(
            want is not None and want != got for want, got in zip(self.parts, numbers, strict=True)
        ):
            return False
        return not (
            self.build is not None
            and isinstance(version, ImageVersion)
            and version.build != self.build
        )

    @property
    def wildcard(self) -> bool:
        """Whether it has an ``x`` (so it may resolve to a newer version later)."""
        return None in self.parts

    def __str__(self) -> str:
        return self.text


def newest(selector: VersionSelector, versions: Iterable[V]) -> V | None:
    """The newest of ``versions`` that ``selector`` matches (None: none does)."""
    matching = [version for version in versions if selector.matches(version)]
    return max(matching) if matching else None


def check_name(name: str) -> str:
    """``name`` when it is a valid resource name, else ValueError."""
    if not _NAME.match(name):
        raise ValueError(f"a name must be {NAME_RULE}, got {name!r}")
    return name


def parse_named(text: str, resource: str | None = None) -> tuple[str, VersionSelector]:
    """(name, selector) of ``NAME:SELECTOR``, ``NAME/SELECTOR``, ``NAME`` (any version:
    ``x.x.x``) or ``arn:aws:imagebuilder:REGION:ACCOUNT:TYPE/NAME/SELECTOR`` with TYPE one
    of ``image``, ``component``, ``image-recipe``.  ``resource``, when given, is the one TYPE
    an ARN may have."""
    arn = _ARN.match(text)
    if arn:
        kind = arn.group("resource")
        allowed = (resource,) if resource else ARN_RESOURCES
        if kind not in allowed:
            raise ValueError(f"must be an ARN of {' or '.join(allowed)}/…, got {text!r}")
        name, slash, selector = arn.group("rest").partition("/")
        if not slash:
            raise ValueError(f"an ARN must end with NAME/VERSION ({kind}/NAME/1.x.x), got {text!r}")
    elif text.startswith("arn:"):
        raise ValueError(
            "must be an Image Builder ARN (arn:aws:imagebuilder:REGION:ACCOUNT:TYPE/NAME/VERSION)"
            f", got {text!r}"
        )
    else:
        colon = text.find(":")
        slash_at = text.find("/")
        cut = min((i for i in (colon, slash_at) if i >= 0), default=-1)
        if cut < 0:
            name, selector = text, "x.x.x"
        else:
            name, selector = text[:cut], text[cut + 1 :]
    check_name(name)
    return name, VersionSelector.parse(selector)
