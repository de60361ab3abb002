"""Just enough of apt's configuration language to read the options a scan depends on.

apt.conf syntax: ``Key::Sub "value";``, scopes ``Key { Sub "value"; };``, lists
``Key { "a"; "b"; };``, comments ``//``, ``#`` and ``/* */``, ``#clear``/``#include``.
Values are returned flattened with ``::`` keys, the last assignment winning; lists are joined.
"""

from __future__ import annotations

import re
from pathlib import Path

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+')


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        # '//' starts a comment unless it sits inside a quoted value (URLs)
        buf, quoted = [], False
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == '"':
                quoted = not quoted
            elif not quoted and (line.startswith("//", i) or ch == "#"):
                break
            buf.append(ch)
            i += 1
        out.append("".join(buf))
    return "\n".join(out)


def parse_apt_conf(text: str) -> dict[str, str]:
    """Flatten apt.conf text into ``{"APT::Default-Release": "bookworm", ...}``."""
    values: dict[str, str] = {}
    scope: list[str] = []
    pending: list[str] = []  # tokens of the current statement
    for tok in _TOKEN.findall(_strip_comments(text)):
        if tok == "{":
            scope.append("::".join(pending) if pending else "")
            pending = []
        elif tok == "}":
            if scope:
                scope.pop()
            pending = []
        elif tok == ";":
            _assign(values, scope, pending)
            pending = []
        else:
            pending.append(tok)
    return values


def _assign(values: dict[str, str], scope: list[str], tokens: list[str]) -> None:
    if not tokens:
        return
    if len(tokens) == 1 and tokens[0].startswith('"'):  # list element inside a scope
        key = "::".join(s for s in scope if s)
        value = tokens[0][1:-1]
        values[key] = f"{values[key]} {value}" if values.get(key) else value
        return
    key = "::".join([*(s for s in scope if s), tokens[0]])
    value = " ".join(t[1:-1] if t.startswith('"') else t for t in tokens[1:])
    values[key] = value


def read_apt_conf(root: Path) -> dict[str, str]:
    """Options from ``etc/apt/apt.conf.d/*`` (lexical order) then ``etc/apt/apt.conf``.

    Keys are kept as written; look them up with :func:`get` (case-insensitive).
    """
    files: list[Path] = []
    parts = root / "etc/apt/apt.conf.d"
    if parts.is_dir():
        files.extend(
            p
            for p in sorted(parts.iterdir())
            if p.is_file() and re.fullmatch(r"[A-Za-z0-9_.\-]+", p.name) and _conf_name(p.name)
        )
    main = root / "etc/apt/apt.conf"
    if main.is_file():
        files.append(main)
    values: dict[str, str] = {}
    for path in files:
        try:
            values.update(parse_apt_conf(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return values


def _conf_name(name: str) -> bool:
    # apt ignores backup files and files with a dot-suffix other than .conf
    return "." not in name or name.endswith(".conf")


def get(values: dict[str, str], key: str, default: str = "") -> str:
    """Case-insensitive lookup of a flattened key."""
    lowered = key.lower()
    for k, v in values.items():
        if k.lower() == lowered:
            return v
    return default


def get_bool(values: dict[str, str], key: str, default: bool = False) -> bool:
    """An apt boolean (``true``/``yes``/``1``/``on`` …)."""
    raw = get(values, key)
    if not raw:
        return default
    return raw.lower() in {"1", "yes", "true", "with", "on", "enable"}
