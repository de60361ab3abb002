"""Maintenance-window use cases (reference §5): applying a window document
(:mod:`.documents`), the scheduler's round (:mod:`.tick`: what came due for each window,
:mod:`.schedule`; every active execution advanced, :mod:`.advance`), starting an execution
(:mod:`.start`), stepping its RUN_COMMAND and AUTOMATION tasks (:mod:`.run_command`,
:mod:`.automation`) and an operator's cancel and delete (:mod:`.admin`).

Decisions are the pure window machine's (:mod:`patchwarden.core.window_machine`); these
use cases load, decide, store and act through the narrow ports of :mod:`.ports` (SQL
implementations in :mod:`patchwarden.adapters.storage.windows`).
"""
