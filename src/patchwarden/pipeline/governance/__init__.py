"""Governance use cases (issue 7): rules evaluated on change and on a timer, remediation
runbooks started from NON_COMPLIANT results, conformance packs.  Every use case takes the
ports of one transaction (:class:`~.context.Governance`) and plain values, ``now``
included; webhooks are only queued (:class:`~.context.Outbox`) and sent after the commit
(:mod:`.delivery`).

- :mod:`.documents`, :mod:`.apply` — Rule / Runbook / ConformancePack documents;
- :mod:`.evaluation` — evaluations (history kept) and the change trigger;
- :mod:`.remediation`, :mod:`.remediation_runs` — the per (rule, resource) state machine,
  execution controls, exceptions;
- :mod:`.runbooks`, :mod:`.effects` — runbook executions: actions → commands, tag edits,
  webhooks;
- :mod:`.tick` — one pass of everything time-driven.
"""
