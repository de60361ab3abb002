"""Ubuntu phased updates, decided exactly as apt decides them for this machine.

apt seeds ``std::minstd_rand`` through ``std::seed_seq`` with ``"<source>-<version>-<machine-id>"``
and draws ``uniform_int_distribution(0, 100)``; the update is kept back when the draw exceeds
``Phased-Update-Percentage``.  The C++ standard fixes ``seed_seq`` and ``minstd_rand``; the
distribution below is libstdc++'s (Debian and Ubuntu build apt with GCC).
"""

from __future__ import annotations

from dataclasses import dataclass

_M32 = 0xFFFFFFFF


def _seed_seq_generate(seed: list[int], n: int) -> list[int]:
    out = [0x8B8B8B8B] * n
    s = len(seed)
    t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else 3 if n >= 7 else (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    m = max(s + 1, n)

    def mix(x: int) -> int:
        return (x ^ (x >> 27)) & _M32

    for k in range(m):
        r1 = (1664525 * mix(out[k % n] ^ out[(k + p) % n] ^ out[(k - 1) % n])) & _M32
        if k == 0:
            r2 = (r1 + s) & _M32
        elif k <= s:
            r2 = (r1 + k % n + seed[k - 1]) & _M32
        else:
            r2 = (r1 + k % n) & _M32
        out[(k + p) % n] = (out[(k + p) % n] + r1) & _M32
        out[(k + q) % n] = (out[(k + q) % n] + r2) & _M32
        out[k % n] = r2
    for k in range(m, m + n):
        r3 = (1566083941 * mix((out[k % n] + out[(k + p) % n] + out[(k - 1) % n]) & _M32)) & _M32
        r4 = (r3 - k % n) & _M32
        out[(k + p) % n] ^= r3
        out[(k + q) % n] ^= r4
        out[k % n] = r4
    return out


def phase_draw(source: str, version: str, machine_id: str) -> int:
    """The 0-100 draw apt makes for (source package, source version, machine id)."""
    seed_str = f"{source}-{version}-{machine_id}".encode()
    # std::string iterates `char` (signed on x86/arm64 Linux); seed_seq keeps 32 bits of it
    seed = [(b - 256 if b > 127 else b) & _M32 for b in seed_str]
    modulus = 2147483647
    state = _seed_seq_generate(seed, 4)[3] % modulus
    if state == 0:
        state = 1
    urng_min, urng_max = 1, modulus - 1
    erange = 101
    scaling = (urng_max - urng_min) // erange
    past = erange * scaling
    while True:
        state = (48271 * state) % modulus
        ret = state - urng_min
        if ret < past:
            return ret // scaling


@dataclass(frozen=True)
class Phasing:
    """How apt on one root treats phased updates.

    apt 2.5 and newer (Debian 12's 2.6, Ubuntu 22.04's 2.4 updates) keep a phased version as
    the candidate and hold it back at upgrade time on machines outside the phase — unless a
    version from a ``-security`` archive lies between the installed version and it.  With
    ``APT::Get::Phase-Policy`` apt uses its legacy model instead: such a version gets pin
    priority 1 and is simply not the candidate.
    """

    machine_id: str
    """``APT::Machine-ID``, else the root's ``etc/machine-id``; empty: phasing is off."""
    legacy_policy: bool = False
    """``APT::Get::Phase-Policy``."""
    always_include: bool = False
    """``APT::Get::Always-Include-Phased-Updates`` (or update-manager's spelling)."""
    never_include: bool = False
    """``APT::Get::Never-Include-Phased-Updates`` (or update-manager's spelling)."""
    reproducible: bool = False
    """``SOURCE_DATE_EPOCH`` is set: apt includes every phased update."""
    chroot: bool = False
    """apt runs in a chroot (``ischroot -t`` says so): apt includes every phased update."""

    def excluded(self, source: str, version: str, percentage: int) -> bool:
        """Whether this machine is outside the phase of ``source`` ``version`` (apt's
        ``IsIgnoredPhasedUpdate``/``ExcludePhased`` without the Phase-Policy switch)."""
        if percentage >= 100 or self.always_include:
            return False
        if self.never_include:
            return True
        if not self.machine_id or self.reproducible or self.chroot:
            return False
        return phase_draw(source, version, self.machine_id) > percentage


def percentage(fields: dict[str, str]) -> int:
    """A version's ``Phased-Update-Percentage`` (100 when absent or unreadable)."""
    raw = fields.get("Phased-Update-Percentage", "").strip()
    return min(int(raw), 100) if raw.isascii() and raw.isdigit() else 100  # not "²"
