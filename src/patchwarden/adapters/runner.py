"""Process runners: argv lists only, timeouts, errors translated into the project's tree."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence

from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import RunResult


class LocalRunner:
    """Runs processes on this machine.  Never through a shell."""

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        """Run ``argv``; with ``check`` a non-zero exit raises :class:`AdapterError`."""
        full_env = dict(os.environ)
        full_env.setdefault("LC_ALL", "C.UTF-8")
        if env:
            full_env.update(env)
        try:
            proc = subprocess.run(
                list(argv),
                env=full_env,
                timeout=timeout,
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError as exc:
            raise EnvironmentProblem(f"{argv[0]}: command not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise AdapterError(f"{argv[0]} timed out after {timeout} s") from exc
        result = RunResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AdapterError(_failure(result))
        return result


def _failure(result: RunResult) -> str:
    lines = [ln for ln in (result.stderr or result.stdout).strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no output"
    return f"{result.argv[0]} exited with {result.returncode}: {last}"


class FakeRunner:
    """A scripted runner for unit tests: maps argv prefixes to results, records calls."""

    def __init__(self, handler: Callable[[tuple[str, ...]], RunResult] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self._handler = handler

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        """Record the call and answer from the handler (exit 0, no output by default)."""
        call = tuple(argv)
        self.calls.append(call)
        result = self._handler(call) if self._handler else RunResult(call, 0, "", "")
        if check and result.returncode != 0:
            raise AdapterError(_failure(result))
        return result


def host_reboot() -> None:
    """Reboot this machine a minute from now (``shutdown -r +1``): the RebootIfNeeded
    action of the CLI and the agent on ``/`` (sandbox roots get a recorded boot instead)."""
    LocalRunner().run(["shutdown", "-r", "+1", "patchwarden: reboot after patching"])
