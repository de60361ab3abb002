"""``agent install-service`` and ``server install-service``: systemd units that run this
very ``patchwarden`` (its absolute path), written to a unit directory, then
``systemctl daemon-reload`` and ``systemctl enable --now`` (argv lists, no shell).

A database URL (it may hold a password) never goes into the unit, which is world-readable:
it goes into an ``EnvironmentFile=`` of mode 0600 (see docs/services.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AGENT_UNIT = "patchwarden-agent.service"
SERVER_UNIT = "patchwarden-server.service"
UNIT_DIR = Path("/etc/systemd/system")
STATE_HOME = Path("/var/lib/patchwarden")
"""PATCHWARDEN_HOME of the services (systemd's ``StateDirectory=patchwarden``)."""
SERVER_ENV_FILE = Path("/etc/patchwarden/server.env")
DOCS = "https://github.com/patchwarden/patchwarden/blob/main/docs/services.md"


def executable() -> str:
    """The absolute path of the running ``patchwarden`` console script."""
    from patchwarden.errors import EnvironmentProblem

    candidates = [Path(sys.argv[0]) if sys.argv and sys.argv[0] else None]
    candidates.append(Path(sys.executable).parent / "patchwarden")
    for path in candidates:
        if path is None or path.name != "patchwarden":
            continue
        absolute = path if path.is_absolute() else Path.cwd() / path
        if absolute.is_file() and os.access(absolute, os.X_OK):
            return os.path.normpath(absolute)
    raise EnvironmentProblem(
        "cannot find the patchwarden executable of this Python "
        f"({Path(sys.executable).parent / 'patchwarden'}): run install-service through it"
    )


def quote(word: str) -> str:
    """One word of an ``ExecStart=`` line, quoted for systemd when it needs to be
    (``%`` is a specifier and ``$`` a variable there: both are doubled)."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not any(c in word for c in " \t\n\"'\\;"):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _exec_start(argv: list[str]) -> str:
    return " ".join(quote(a) for a in argv)


def _state_directory(path: Path) -> list[str]:
    """``StateDirectory=`` lines when ``path`` is under /var/lib/patchwarden (systemd
    creates it 0700 for the service)."""
    if path == STATE_HOME or STATE_HOME in path.parents:
        return ["StateDirectory=patchwarden", "StateDirectoryMode=0700"]
    return []


def agent_unit(exe: str, state_dir: Path) -> str:
    """The agent's unit: ``agent run --state-dir DIR`` of ``exe``."""
    home = STATE_HOME if STATE_HOME in state_dir.parents else state_dir.parent
    lines = [
        "# systemd unit of the Patchwarden agent, written by",
        "#   patchwarden agent install-service",
        "# Register once first (as root):",
        "#   patchwarden agent register --server URL --activation-id ID --activation-code CODE",
        "[Unit]",
        "Description=Patchwarden agent (RunPatchBaseline over long-poll)",
        f"Documentation={DOCS}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"Environment={quote(f'PATCHWARDEN_HOME={home}')}",
        "ExecStart=" + _exec_start([exe, "agent", "run", "--state-dir", str(state_dir)]),
        "Restart=always",
        "RestartSec=10",
        "# The journal makes a kill at any point safe: a started install is never run twice.",
        "KillMode=control-group",
        *_state_directory(state_dir),
        "UMask=0077",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def server_unit(exe: str, host: str, port: int, env_file: Path | None) -> str:
    """The server's unit: ``server --host H --port P`` of ``exe``; the database URL comes
    from ``env_file`` (``PATCHWARDEN_DATABASE_URL``) when there is one."""
    lines = [
        "# systemd unit of the Patchwarden fleet server, written by",
        "#   patchwarden server install-service",
        "[Unit]",
        "Description=Patchwarden fleet server",
        f"Documentation={DOCS}",
        "Wants=network-online.target",
        "After=network-online.target postgresql.service",
        "",
        "[Service]",
        "Type=simple",
        f"Environment={quote(f'PATCHWARDEN_HOME={STATE_HOME}')}",
        *([f"EnvironmentFile={quote(str(env_file))}"] if env_file else []),
        "ExecStart=" + _exec_start([exe, "server", "--host", host, "--port", str(port)]),
        "Restart=always",
        "RestartSec=5",
        "StateDirectory=patchwarden",
        "StateDirectoryMode=0700",
        "UMask=0077",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def env_line(key: str, value: str) -> str:
    """``KEY='value'`` for an ``EnvironmentFile=`` (taken literally by systemd)."""
    from patchwarden.errors import InputError

    if "\n" in value or "\r" in value:
        raise InputError(f"{key}: must be one line")
    if "'" not in value:
        return f"{key}='{value}'"
    escaped = value
    for special in ("\\", '"', "$", "`"):
        escaped = escaped.replace(special, "\\" + special)
    return f'{key}="{escaped}"'


def write_private(path: Path, text: str) -> None:
    """``text`` into ``path`` with mode 0600 from its creation on (an existing file is
    made 0600 before it is rewritten)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def write_unit(unit_dir: Path, name: str, text: str) -> Path:
    """The unit file (mode 0644: systemd and everyone read units)."""
    from patchwarden.errors import EnvironmentProblem

    path = unit_dir / name
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(path)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def enable(name: str) -> None:
    """``systemctl daemon-reload`` then ``systemctl enable --now NAME``."""
    from patchwarden.errors import EnvironmentProblem

    for argv in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", name]):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise EnvironmentProblem(f"{argv[0]}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise EnvironmentProblem(
                f"{' '.join(argv)} failed ({done.returncode}): {why[-1] if why else ''}"
            )


def install_agent(state_dir: Path, unit_dir: Path, enable_now: bool) -> int:
    """``patchwarden agent install-service``."""
    path = write_unit(unit_dir, AGENT_UNIT, agent_unit(executable(), state_dir.absolute()))
    print(f"wrote {path}")
    if enable_now:
        enable(AGENT_UNIT)
        print(f"enabled and started {AGENT_UNIT}")
    else:
        print(f"not enabled (--no-enable): systemctl enable --now {AGENT_UNIT}")
    return 0


def install_server(
    database_url: str | None,
    host: str,
    port: int,
    unit_dir: Path,
    env_file: Path,
    enable_now: bool,
) -> int:
    """``patchwarden server install-service``: the database URL only in ``env_file``."""
    from patchwarden.errors import EnvironmentProblem

    if database_url:
        try:
            write_private(env_file, env_line("PATCHWARDEN_DATABASE_URL", database_url) + "\n")
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {env_file}: {exc.strerror or exc}") from None
        print(f"wrote {env_file} (mode 0600: it holds the database URL)")
    unit = server_unit(executable(), host, port, env_file.absolute() if database_url else None)
    path = write_unit(unit_dir, SERVER_UNIT, unit)
    print(f"wrote {path}")
    if enable_now:
        enable(SERVER_UNIT)
        print(f"enabled and started {SERVER_UNIT} (journalctl -u {SERVER_UNIT} shows its output)")
    else:
        print(f"not enabled (--no-enable): systemctl enable --now {SERVER_UNIT}")
    return 0
