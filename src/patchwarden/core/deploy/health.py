"""Health-check tallies and alarm decisions.

An instance is *healthy* after ``healthy_threshold`` consecutive successful checks and
*unhealthy* after ``unhealthy_threshold`` consecutive failures (an ALB target group's
rule); until then it is *pending*.  A new instance that is not healthy within
``ready_timeout`` fails the deployment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from patchwarden.core.deploy.model import Alarms, HealthCheck


class Health(StrEnum):
    """What the checks so far say about one instance."""

    PENDING = "pending"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class Tally:
    """Consecutive results of one instance's checks."""

    successes: int = 0
    failures: int = 0
    last: str = ""
    """The last failure's detail."""

    def add(self, healthy: bool, detail: str = "") -> Tally:
        """The tally after one more check."""
        if healthy:
            return Tally(self.successes + 1, 0, self.last)
        return Tally(0, self.failures + 1, detail or self.last)

    def state(self, check: HealthCheck) -> Health:
        """Healthy, unhealthy or still pending under ``check``'s thresholds."""
        if self.successes >= check.healthy_threshold:
            return Health.HEALTHY
        if self.failures >= check.unhealthy_threshold:
            return Health.UNHEALTHY
        return Health.PENDING


def finding_alarm(alarms: Alarms, findings: Iterable[tuple[str, int]]) -> str:
    """Why the image's ACTIVE findings (``(severity, count)``) raise the alarm; empty when
    they do not."""
    if not alarms.enabled:
        return ""
    counts: Mapping[str, int] = dict(findings)
    over = [
        f"{counts.get(severity, 0)} {severity} findings (at most {most})"
        for severity, most in alarms.max_findings
        if counts.get(severity, 0) > most
    ]
    return "; ".join(over)
