"""Governance storage: SQLAlchemy repositories implementing the ports of
:mod:`patchwarden.pipeline.governance` (each built from a ``Session``; the caller owns the
transaction), the JSON codec of the stored state, and the read models of the API.

- :mod:`.documents` — rules, runbooks, remediation configurations, packs, settings;
- :mod:`.results` — evaluations and the latest result per (rule, resource);
- :mod:`.remediations` — remediation states, exceptions and runs;
- :mod:`.executions` — runbook executions and their steps;
- :mod:`.fleet` — nodes and their snapshots, tags, finished commands;
- :mod:`.views`, :mod:`.remediation_views` — what the API reads.
"""
