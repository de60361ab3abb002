"""Ubuntu phased updates, decided exactly as apt decides them for this machine.

apt seeds ``std::minstd_rand`` through ``std::seed_seq`` with ``"<source>-<version>-<machine-id>"``
and draws ``uniform_int_distribution(0, 100)``; the update is kept back when the draw exceeds
``Phased-Update-Percentage``.  The C++ standard fixes ``seed_seq`` and ``minstd_rand``; the
distribution below is libstdc++'s (Debian and Ubuntu build apt with GCC).
"""

from __future__ import annotations

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


def kept_back(source: str, version: str, machine_id: str, percentage: int) -> bool:
    """Whether apt keeps this phased update back on the machine with ``machine_id``."""
    if percentage >= 100 or not machine_id:
        return False
    return phase_draw(source, version, machine_id) > percentage
