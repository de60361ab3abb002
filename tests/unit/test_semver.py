"""Image Builder versions: semantic versions, image builds, selectors and named references."""

from __future__ import annotations

import pytest

from patchwarden.core.semver import (
    ImageVersion,
    SemanticVersion,
    VersionSelector,
    newest,
    parse_named,
)


def sv(text: str) -> SemanticVersion:
    return SemanticVersion.parse(text)


def iv(text: str) -> ImageVersion:
    return ImageVersion.parse(text)


def test_semantic_versions_parse_print_and_order_numerically() -> None:
    assert sv("1.2.3") == SemanticVersion(1, 2, 3)
    assert str(sv("10.0.7")) == "10.0.7"
    assert sv("1.10.0") > sv("1.9.9") > sv("1.9.0") > sv("0.99.99")
    assert sv("1073741823.0.0").major == 2**30 - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.2", "must be major.minor.patch (1.0.0), got '1.2'"),
        ("01.2.3", "must be major.minor.patch (1.0.0), got '01.2.3'"),
        ("1.2.3/4", "must be major.minor.patch (1.0.0), got '1.2.3/4'"),
        ("1.x.3", "must be major.minor.patch (1.0.0), got '1.x.3'"),
        ("", "must be major.minor.patch (1.0.0), got ''"),
        ("1.1073741824.0", "each part must be at most 1073741823, got '1.1073741824.0'"),
    ],
)
def test_semantic_version_problems(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        SemanticVersion.parse(text)
    assert str(exc.value) == message


def test_image_versions() -> None:
    version = iv("1.2.3/4")
    assert version == ImageVersion(SemanticVersion(1, 2, 3), 4)
    assert (str(version), version.tag) == ("1.2.3/4", "1.2.3-4")
    assert iv("1.2.3/10") > iv("1.2.3/9") > iv("1.2.2/99")
    assert iv("2.0.0/1") > iv("1.99.99/1000")
    for bad in ("1.2.3", "1.2.3/0", "1.2.3/04", "1.2.3/x", "1.2/3"):
        with pytest.raises(ValueError, match=r"major\.minor\.patch"):
            ImageVersion.parse(bad)


@pytest.mark.parametrize(
    ("text", "parts", "build", "wildcard"),
    [
        ("x.x.x", (None, None, None), None, True),
        ("1.x.x", (1, None, None), None, True),
        ("1.2.x", (1, 2, None), None, True),
        ("1.2.3", (1, 2, 3), None, False),
        ("1.2.3/4", (1, 2, 3), 4, False),
    ],
)
def test_selectors(
    text: str, parts: tuple[int | None, ...], build: int | None, wildcard: bool
) -> None:
    selector = VersionSelector.parse(text)
    assert (selector.text, selector.parts, selector.build, selector.wildcard) == (
        text,
        parts,
        build,
        wildcard,
    )
    assert str(selector) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x.2.x", "x may only stand at the end (1.x.x, 1.2.x), got 'x.2.x'"),
        ("1.x.3", "x may only stand at the end (1.x.x, 1.2.x), got '1.x.3'"),
        ("1.x.x/2", "a build needs an exact version (1.2.3/4), got '1.x.x/2'"),
        ("1.2.3/0", "the build must be an integer >= 1 (1.2.3/4), got '1.2.3/0'"),
        (
            "1.x",
            "must be a version (1.2.3), a wildcard (1.2.x, 1.x.x, x.x.x) or a build (1.2.3/4), "
            "got '1.x'",
        ),
        (
            "X.x.x",
            "must be a version (1.2.3), a wildcard (1.2.x, 1.x.x, x.x.x) or a build (1.2.3/4), "
            "got 'X.x.x'",
        ),
        ("1.2.1073741824", "each part must be at most 1073741823, got '1.2.1073741824'"),
    ],
)
def test_selector_problems(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        VersionSelector.parse(text)
    assert str(exc.value) == message


def test_matching() -> None:
    one = VersionSelector.parse("1.x.x")
    assert one.matches(sv("1.0.0")) and one.matches(sv("1.99.3"))
    assert not one.matches(sv("2.0.0")) and not one.matches(sv("0.9.9"))
    assert VersionSelector.parse("1.2.x").matches(iv("1.2.7/3"))
    assert not VersionSelector.parse("1.2.x").matches(iv("1.3.0/1"))
    exact_build = VersionSelector.parse("1.2.3/4")
    assert exact_build.matches(iv("1.2.3/4"))
    assert not exact_build.matches(iv("1.2.3/5"))
    # a plain semantic version (a component's, from an ARN ending /1.2.3/4) has no build
    assert exact_build.matches(sv("1.2.3"))
    assert VersionSelector.parse("x.x.x").matches(iv("0.0.0/1"))


def test_newest_resolves_a_wildcard_to_the_newest_match() -> None:
    versions = [sv("2.2.4"), sv("1.7.8"), sv("1.6.8")]
    assert newest(VersionSelector.parse("1.x.x"), versions) == sv("1.7.8")
    assert newest(VersionSelector.parse("x.x.x"), versions) == sv("2.2.4")
    assert newest(VersionSelector.parse("1.6.x"), versions) == sv("1.6.8")
    assert newest(VersionSelector.parse("3.x.x"), versions) is None
    builds = [iv("1.0.0/1"), iv("1.0.0/3"), iv("1.0.0/2"), iv("0.9.0/7")]
    assert newest(VersionSelector.parse("1.0.0"), builds) == iv("1.0.0/3")
    assert newest(VersionSelector.parse("1.0.0/2"), builds) == iv("1.0.0/2")
    assert newest(VersionSelector.parse("1.x.x"), []) is None


@pytest.mark.parametrize(
    ("text", "name", "selector"),
    [
        ("web-base:1.x.x", "web-base", "1.x.x"),
        ("web-base/1.x.x", "web-base", "1.x.x"),
        ("web-base", "web-base", "x.x.x"),
        ("web.base_2:1.2.3/4", "web.base_2", "1.2.3/4"),
        ("arn:aws:imagebuilder:us-east-1:123456789012:image/web-base/1.x.x", "web-base", "1.x.x"),
        ("arn:aws:imagebuilder:eu-west-1:aws:component/hardening/1.0.0/1", "hardening", "1.0.0/1"),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/web-base/2.0.0",
            "web-base",
            "2.0.0",
        ),
    ],
)
def test_named_references(text: str, name: str, selector: str) -> None:
    assert parse_named(text) == (name, VersionSelector.parse(selector))


@pytest.mark.parametrize(
    ("text", "resource", "message"),
    [
        (
            "-web:1.x.x",
            None,
            "a name must be 1-128 characters of a-z A-Z 0-9 _ - . (a letter or digit first), "
            "got '-web'",
        ),
        ("web:x.1.x", None, "x may only stand at the end (1.x.x, 1.2.x), got 'x.1.x'"),
        (
            "arn:aws:s3:::bucket",
            None,
            "must be an Image Builder ARN (arn:aws:imagebuilder:REGION:ACCOUNT:TYPE/NAME/VERSION)"
            ", got 'arn:aws:s3:::bucket'",
        ),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image/web-base/1.x.x",
            "component",
            "must be an ARN of component/…, got "
            "'arn:aws:imagebuilder:us-east-1:123456789012:image/web-base/1.x.x'",
        ),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image/web-base",
            None,
            "an ARN must end with NAME/VERSION (image/NAME/1.x.x), got "
            "'arn:aws:imagebuilder:us-east-1:123456789012:image/web-base'",
        ),
        ("a" * 129, None, "a name must be 1-128 characters"),
    ],
)
def test_named_reference_problems(text: str, resource: str | None, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_named(text, resource)
    assert str(exc.value).startswith(message)
