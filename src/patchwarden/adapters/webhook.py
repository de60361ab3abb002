"""Outbound webhooks (httpx): the :class:`~patchwarden.pipeline.governance.ports.Notifier`
of runbook ``notify`` steps.  A failed send is a value, never an exception."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from patchwarden.pipeline.governance.records import Delivery

TIMEOUT = 5.0


class WebhookNotifier:
    """POSTs JSON to a webhook URL with a short timeout."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout

    def send(self, destination: str, payload: Mapping[str, object]) -> Delivery:
        """POST ``payload`` to ``destination``: its HTTP status, or why it was not sent."""
        try:
            response = httpx.post(destination, json=dict(payload), timeout=self.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Delivery(error=str(exc))
        return Delivery(status_code=response.status_code)
