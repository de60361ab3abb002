"""Lifecycle policies: which images are deprecated, disabled or deleted, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.lifecycle import (
    LifecycleAction,
    LifecycleImage,
    LifecyclePolicy,
    PlannedAction,
    PolicyDetail,
    ResourceSelection,
    plan,
)
from patchwarden.core.semver import ImageVersion, VersionSelector

NOW = datetime(2026, 11, 1, tzinfo=UTC)
WEB_1X = ResourceSelection(recipes=(("web-base", VersionSelector.parse("1.x.x")),))
DELETE, DISABLE, DEPRECATE = (
    LifecycleAction.DELETE,
    LifecycleAction.DISABLE,
    LifecycleAction.DEPRECATE,
)


def image(
    version: str,
    age_days: int = 0,
    status: str = "AVAILABLE",
    name: str = "web-base",
    tags: tuple[tuple[str, str], ...] = (),
) -> LifecycleImage:
    return LifecycleImage(
        name, ImageVersion.parse(version), status, NOW - timedelta(days=age_days), tags
    )


def policy(*details: PolicyDetail, selection: ResourceSelection = WEB_1X) -> LifecyclePolicy:
    return LifecyclePolicy("retention", details, selection)


def count(
    n: int, action: LifecycleAction = DELETE, exclude_tags: tuple[tuple[str, str], ...] = ()
) -> PolicyDetail:
    return PolicyDetail(action, "COUNT", n, exclude_tags=exclude_tags)


def age(
    value: int,
    unit: str = "DAYS",
    action: LifecycleAction = DEPRECATE,
    retain_at_least: int | None = None,
) -> PolicyDetail:
    return PolicyDetail(action, "AGE", value, unit, retain_at_least=retain_at_least)


def summary(actions: list[PlannedAction]) -> list[tuple[str, str, str, str]]:
    return [(a.image.name, str(a.image.version), a.action.value, a.reason) for a in actions]


def test_count_keeps_the_newest_n_by_version_not_by_creation_time() -> None:
    images = [
        image("1.0.0/1", age_days=1),  # the oldest version, built last
        image("1.0.0/2", age_days=50),
        image("1.1.0/1", age_days=40),
        image("1.2.0/1", age_days=30),
    ]
    assert summary(plan(policy(count(2)), images, NOW)) == [
        ("web-base", "1.0.0/1", "DELETE", "beyond the newest 2 of web-base"),
        ("web-base", "1.0.0/2", "DELETE", "beyond the newest 2 of web-base"),
    ]


def test_build_numbers_order_images_of_one_version() -> None:
    images = [image("1.0.0/10"), image("1.0.0/9"), image("1.0.0/2")]
    assert summary(plan(policy(count(1)), images, NOW)) == [
        ("web-base", "1.0.0/2", "DELETE", "beyond the newest 1 of web-base"),
        ("web-base", "1.0.0/9", "DELETE", "beyond the newest 1 of web-base"),
    ]


def test_age_chooses_images_strictly_older_than_the_limit() -> None:
    images = [image("1.0.0/1", 31), image("1.0.1/1", 30), image("1.0.2/1", 2)]
    assert summary(plan(policy(age(30)), images, NOW)) == [
        ("web-base", "1.0.0/1", "DEPRECATE", "older than 30 days (created 2026-10-01)"),
    ]


@pytest.mark.parametrize(
    ("value", "unit", "older", "younger", "words"),
    [
        (1, "DAYS", 2, 1, "1 day"),
        (2, "WEEKS", 15, 14, "2 weeks"),
        (1, "MONTHS", 31, 30, "1 month"),
        (1, "YEARS", 366, 365, "1 year"),
    ],
)
def test_age_units(value: int, unit: str, older: int, younger: int, words: str) -> None:
    images = [image("1.0.0/1", older), image("1.0.0/2", younger)]
    planned = plan(policy(age(value, unit)), images, NOW)
    assert [(str(p.image.version), p.reason.split(" (")[0]) for p in planned] == [
        ("1.0.0/1", f"older than {words}")
    ]


def test_retain_at_least_keeps_the_newest_whatever_their_age() -> None:
    images = [image(f"1.0.{i}/1", 100 - i) for i in range(4)]  # all older than 30 days
    planned = plan(policy(age(30, retain_at_least=2)), images, NOW)
    assert [str(p.image.version) for p in planned] == ["1.0.0/1", "1.0.1/1"]
    without = plan(policy(age(30)), images, NOW)
    assert len(without) == 4


def test_counting_is_per_image_name() -> None:
    both = ResourceSelection(
        recipes=(
            ("web-base", VersionSelector.parse("x.x.x")),
            ("db-base", VersionSelector.parse("x.x.x")),
        )
    )
    images = [
        image("1.0.0/1", name="db-base"),
        image("1.0.1/1", name="db-base"),
        image("3.0.0/1"),
        image("2.0.0/1"),
    ]
    assert summary(plan(policy(count(1), selection=both), images, NOW)) == [
        ("db-base", "1.0.0/1", "DELETE", "beyond the newest 1 of db-base"),
        ("web-base", "2.0.0/1", "DELETE", "beyond the newest 1 of web-base"),
    ]


def test_a_wildcard_selection_covers_newer_recipe_versions() -> None:
    images = [image("1.0.0/1"), image("1.5.0/1"), image("1.9.0/1"), image("2.0.0/1")]
    planned = plan(policy(count(1)), images, NOW)
    # 2.0.0 is outside 1.x.x: not counted, not touched; 1.9.0 (newer than the policy) is kept
    assert [str(p.image.version) for p in planned] == ["1.0.0/1", "1.5.0/1"]
    exact = ResourceSelection(recipes=(("web-base", VersionSelector.parse("1.0.0")),))
    assert plan(policy(count(1), selection=exact), images, NOW) == []


def test_selection_by_tags_and_unselected_images() -> None:
    tagged = ResourceSelection(tag_map=(("team", "web"),))
    images = [
        image("1.0.0/1", tags=(("team", "web"),)),
        image("1.0.1/1", tags=(("team", "web"), ("x", "y"))),
        image("1.0.2/1", tags=(("team", "db"),)),
        image("0.0.1/1", name="other"),
    ]
    assert [
        str(p.image.version) for p in plan(policy(count(1), selection=tagged), images, NOW)
    ] == ["1.0.0/1"]


def test_exclusion_tags_protect_an_image_from_that_detail_only() -> None:
    keep = (("keep", "true"),)
    images = [
        image("1.0.0/1", 90, tags=keep),
        image("1.0.1/1", 90),
        image("1.0.2/1", 90),
        image("1.0.3/1", 1),
    ]
    details = (count(2, exclude_tags=keep), age(30, action=DEPRECATE))
    assert summary(plan(policy(*details), images, NOW)) == [
        ("web-base", "1.0.0/1", "DEPRECATE", "older than 30 days (created 2026-08-03)"),
        ("web-base", "1.0.1/1", "DELETE", "beyond the newest 2 of web-base"),
        ("web-base", "1.0.2/1", "DEPRECATE", "older than 30 days (created 2026-08-03)"),
    ]


def test_an_excluded_image_still_counts_among_the_newest() -> None:
    keep = (("keep", "true"),)
    images = [image("1.0.0/1"), image("1.0.1/1"), image("1.0.2/1", tags=keep)]
    planned = plan(policy(count(2, exclude_tags=keep)), images, NOW)
    assert [str(p.image.version) for p in planned] == ["1.0.0/1"]


def test_the_most_severe_action_wins() -> None:
    images = [image(f"1.0.{i}/1", 100) for i in range(5)]
    details = (age(30, action=DEPRECATE), count(3, action=DISABLE), count(4, action=DELETE))
    assert summary(plan(policy(*details), images, NOW)) == [
        ("web-base", "1.0.0/1", "DELETE", "beyond the newest 4 of web-base"),
        ("web-base", "1.0.1/1", "DISABLE", "beyond the newest 3 of web-base"),
        ("web-base", "1.0.2/1", "DEPRECATE", "older than 30 days (created 2026-07-24)"),
        ("web-base", "1.0.3/1", "DEPRECATE", "older than 30 days (created 2026-07-24)"),
        ("web-base", "1.0.4/1", "DEPRECATE", "older than 30 days (created 2026-07-24)"),
    ]


@pytest.mark.parametrize(
    ("action", "status", "applies"),
    [
        (DEPRECATE, "AVAILABLE", True),
        (DEPRECATE, "DEPRECATED", False),
        (DEPRECATE, "DISABLED", False),
        (DISABLE, "AVAILABLE", True),
        (DISABLE, "DEPRECATED", True),
        (DISABLE, "DISABLED", False),
        (DELETE, "AVAILABLE", True),
        (DELETE, "DEPRECATED", True),
        (DELETE, "DISABLED", True),
    ],
)
def test_an_action_applies_only_where_it_changes_something(
    action: LifecycleAction, status: str, applies: bool
) -> None:
    images = [image("1.0.0/1", status=status), image("1.0.1/1")]
    planned = plan(policy(count(1, action=action)), images, NOW)
    assert [(str(p.image.version), p.action) for p in planned] == (
        [("1.0.0/1", action)] if applies else []
    )


def test_a_weaker_action_is_used_when_the_stronger_one_changes_nothing() -> None:
    # already DEPRECATED: DEPRECATE changes nothing there, so the DISABLE detail applies
    images = [image("1.0.0/1", 100, status="DEPRECATED"), image("1.0.1/1")]
    details = (count(1, action=DEPRECATE), count(1, action=DISABLE))
    assert [(str(p.image.version), p.action) for p in plan(policy(*details), images, NOW)] == [
        ("1.0.0/1", DISABLE)
    ]


@pytest.mark.parametrize(
    "status",
    ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "DELETED", "FAILED", "CANCELLED"],
)
def test_unfinished_deleted_failed_and_cancelled_images_are_neither_counted_nor_touched(
    status: str,
) -> None:
    images = [
        image("1.0.0/1", 100),
        image("1.0.1/1", 100),
        image("1.0.9/1", 100, status=status),  # the newest version, but it does not count
    ]
    details = (count(1), age(30, retain_at_least=1))
    assert summary(plan(policy(*details), images, NOW)) == [
        ("web-base", "1.0.0/1", "DELETE", "beyond the newest 1 of web-base")
    ]


def test_a_disabled_policy_plans_nothing() -> None:
    disabled = LifecyclePolicy("retention", (count(1),), WEB_1X, enabled=False)
    assert plan(disabled, [image("1.0.0/1"), image("1.0.1/1")], NOW) == []


def test_the_plan_is_ordered_by_name_and_version_whatever_the_input_order() -> None:
    everything = ResourceSelection(
        recipes=(("b", VersionSelector.parse("x.x.x")), ("a", VersionSelector.parse("x.x.x")))
    )
    images = [
        image("1.10.0/1", name="b"),
        image("1.9.0/1", name="b"),
        image("1.2.0/1", name="a"),
        image("1.0.0/1", name="b"),
        image("1.3.0/1", name="a"),
        image("1.1.0/1", name="a"),
    ]
    planned = plan(policy(count(1), selection=everything), images, NOW)
    assert [(p.image.name, str(p.image.version)) for p in planned] == [
        ("a", "1.1.0/1"),
        ("a", "1.2.0/1"),
        ("b", "1.0.0/1"),
        ("b", "1.9.0/1"),
    ]
    assert plan(policy(count(1), selection=everything), reversed(images), NOW) == planned


def test_a_bad_unit_or_filter_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unit must be one of DAYS, WEEKS, MONTHS, YEARS"):
        plan(policy(age(3, "HOURS")), [image("1.0.0/1", 100)], NOW)
    with pytest.raises(ValueError, match="filter type must be AGE or COUNT"):
        plan(policy(PolicyDetail(DELETE, "SIZE", 3)), [image("1.0.0/1")], NOW)
