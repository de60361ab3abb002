"""The one exception tree of Patchwarden.

Every failure a user can cause or meet is a :class:`PatchwardenError`; the shells translate
the subclasses into exit codes (CLI) or HTTP statuses (server). Expected outcomes such as
"skipped" or "not applicable" are values, never exceptions.

- :class:`InputError` — the caller's mistake: a malformed document, version, flag (exit 2).
- :class:`EnvironmentProblem` — the machine cannot do what was asked: unsupported OS,
  missing tool, unreadable package indices, missing root (exit 3).
- :class:`AdapterError` — an external tool or service failed while doing its job (exit 3).
"""

from __future__ import annotations


class PatchwardenError(Exception):
    """Base of every error Patchwarden raises on purpose."""

    exit_code = 3


class InputError(PatchwardenError, ValueError):
    """Bad input from the caller: a document, a version string, an option value."""

    exit_code = 2


class EnvironmentProblem(PatchwardenError):
    """The environment cannot serve the request (unsupported OS, missing tool or root)."""

    exit_code = 3


class AdapterError(PatchwardenError):
    """An external component (a package manager, a feed, storage) failed."""

    exit_code = 3
