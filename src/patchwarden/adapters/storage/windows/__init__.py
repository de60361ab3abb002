"""Maintenance windows in SQL: the ports of :mod:`patchwarden.pipeline.windows.ports`
(windows, executions, task executions, wave commands and snapshots, runbook executions,
targets) and the read queries of the API (:mod:`.reads`)."""
