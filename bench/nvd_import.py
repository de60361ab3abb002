"""Benchmark: streaming an NVD yearly 2.0 feed (``nvd.parse``) versus ``json.load`` of it.

1. Synthesises a full NVD year in the yearly 2.0 feed shape (``{"resultsPerPage", …,
   "format": "NVD_CVE", "version": "2.0", "timestamp", "vulnerabilities": [{"cve": {…}}]}``,
   compact JSON): by default 40,000 CVE records (a recent year has ~30-40k), each with
   id, sourceIdentifier, published/lastModified, vulnStatus (mostly Analyzed/Modified, some
   Awaiting Analysis / Received, ~1 % Rejected), descriptions (en, sometimes es), metrics
   (cvssMetricV31 Primary NVD and often a Secondary CNA entry with full cvssData, some
   cvssMetricV40 and cvssMetricV2), weaknesses, configurations (nodes of cpeMatch entries
   with version ranges: the bulk of a real file, heavy-tailed) and references — about
   10 KB per record.  Writes it plain and gzip-compressed (the real feed is a ``.json.gz``).
2. In separate child processes (peak RSS from ``wait4`` rusage, wall time, median of the
   runs, the kinds interleaved in each round):

   - streaming parse: ``nvd.parse(path, warn, "nvd")`` consumed fully;
   - reference: ``json.load`` of the same file, then the same extraction over the loaded
     list (``nvd._record`` on each item: like with like), plain and gzip; ``json.load``
     alone (plain) to show what the extraction adds; and the plain reference with the
     cyclic garbage collector disabled (``gc.disable()``: with it on, the collector's full
     passes over the millions of live containers ``json.load`` builds dominate its time);
   - ``patchwarden db import FILE --db NEW`` into a fresh database (gzip and plain).

   Every child reports its advisory count; the counts must agree (asserted).

Prints a Markdown table.  Not a test: nothing asserts on time.  Usage:
``.venv/bin/python bench/nvd_import.py [--records N] [--runs N] [--seed N]``
(quick mode: ``--records 2000 --runs 1``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

YEAR = 2024
CNAS = ("cve@mitre.org", "security@wordfence.com", "cna@vuldb.com", "secalert@redhat.com",
        "security-advisories@github.com", "psirt@us.ibm.com", "security@android.com",
        "cve@kernel.org", "audit@patchstack.com", "productcert@siemens.com",
        "secure@microsoft.com", "psirt@cisco.com", "cve-coordination@google.com")  # fmt: skip
STATUS = (("Analyzed", 0.52), ("Modified", 0.30), ("Awaiting Analysis", 0.10),
          ("Received", 0.02), ("Undergoing Analysis", 0.05), ("Rejected", 0.01))  # fmt: skip
WORDS = ("a", "vulnerability", "in", "the", "component", "of", "allows", "remote",
         "authenticated", "attackers", "to", "execute", "arbitrary", "code", "via", "crafted",
         "request", "parameter", "improper", "neutralization", "input", "during", "web",
         "page", "generation", "cross-site", "scripting", "buffer", "overflow", "function",
         "leads", "denial", "service", "memory", "corruption", "privilege", "escalation",
         "this", "issue", "affects", "versions", "before", "and", "through", "plugin",
         "WordPress", "kernel", "Linux", "driver", "use-after-free", "null", "pointer",
         "dereference", "SQL", "injection", "path", "traversal")  # fmt: skip
ES_WORDS = ("una", "vulnerabilidad", "en", "el", "componente", "de", "permite", "a",
            "atacantes", "remotos", "ejecutar", "código", "arbitrario", "mediante", "una",
            "solicitud", "manipulada", "desbordamiento", "búfer", "inyección", "SQL")  # fmt: skip
CWES = ("CWE-79", "CWE-89", "CWE-787", "CWE-20", "CWE-125", "CWE-416", "CWE-22", "CWE-352",
        "CWE-862", "CWE-434", "CWE-476", "CWE-287", "CWE-200", "CWE-94", "NVD-CWE-noinfo",
        "NVD-CWE-Other")  # fmt: skip
TAGS = ("Patch", "Vendor Advisory", "Third Party Advisory", "Exploit", "Issue Tracking",
        "Mailing List", "Release Notes", "Mitigation", "Product", "VDB Entry",
        "Broken Link", "Permissions Required", "US Government Resource")  # fmt: skip
HOSTS = ("github.com", "lists.debian.org", "security.netapp.com", "www.openwall.com",
         "git.kernel.org", "wordpress.org", "plugins.trac.wordpress.org", "vuldb.com",
         "access.redhat.com", "bugzilla.redhat.com", "www.wordfence.com", "support.apple.com",
         "lists.fedoraproject.org", "security.gentoo.org", "ubuntu.com")  # fmt: skip
CPE_PARTS = (("a", 0.8), ("o", 0.15), ("h", 0.05))
V31 = {"AV": ("attackVector", {"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL",
                               "P": "PHYSICAL"}),
       "AC": ("attackComplexity", {"L": "LOW", "H": "HIGH"}),
       "PR": ("privilegesRequired", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
       "UI": ("userInteraction", {"N": "NONE", "R": "REQUIRED"}),
       "S": ("scope", {"U": "UNCHANGED", "C": "CHANGED"}),
       "C": ("confidentialityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
       "I": ("integrityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
       "A": ("availabilityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"})}  # fmt: skip
V40_EXTRA = ("exploitMaturity", "confidentialityRequirement", "integrityRequirement",
             "availabilityRequirement", "modifiedAttackVector", "modifiedAttackComplexity",
             "modifiedAttackRequirements", "modifiedPrivilegesRequired",
             "modifiedUserInteraction", "modifiedVulnConfidentialityImpact",
             "modifiedVulnIntegrityImpact", "modifiedVulnAvailabilityImpact",
             "modifiedSubConfidentialityImpact", "modifiedSubIntegrityImpact",
             "modifiedSubAvailabilityImpact", "Safety", "Automatable", "Recovery",
             "valueDensity", "vulnerabilityResponseEffort", "providerUrgency")  # fmt: skip

# Shim for checkouts where the db group is not wired into cli/main.py.
SHIM = (
    "import sys; from patchwarden.cli import db, main; "
    "main._command_groups = lambda: [db.register]; main.main(sys.argv[1:])"
)
STREAM = """\
import sys
from pathlib import Path
from patchwarden.adapters.feeds import nvd
print(sum(1 for _ in nvd.parse(Path(sys.argv[1]), lambda m: None, "nvd")))
"""
LOAD = """\
import gc, gzip, json, sys
from pathlib import Path
if sys.argv[4:] == ["nogc"]:
    gc.disable()
from patchwarden.adapters.feeds import nvd
from patchwarden.core.vuln import Advisory
path = Path(sys.argv[1])
with (gzip.open(path, "rb") if sys.argv[2] == "gz" else path.open("rb")) as stream:
    doc = json.load(stream)
if sys.argv[3] == "extract":
    print(sum(isinstance(nvd._record("nvd", path, v), Advisory) for v in doc["vulnerabilities"]))
else:
    print(sum(1 for _ in doc["vulnerabilities"]))
"""


def weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]


def text(rng: random.Random, words: tuple[str, ...], low: int, high: int) -> str:
    """A sentence-ish string of ``low`` to ``high`` characters."""
    target = rng.randint(low, high)
    out: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out).capitalize()[:target].rstrip() + "."


def stamp(rng: random.Random, year: int) -> str:
    return (
        f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        f"{rng.randint(0, 999):03d}"
    )


def v31(rng: random.Random, source: str, kind: str) -> dict[str, object]:
    picks = {k: rng.choice(list(values)) for k, (_, values) in V31.items()}
    score = round(rng.uniform(2.0, 10.0), 1)
    data: dict[str, object] = {
        "version": "3.1",
        "vectorString": "CVSS:3.1/" + "/".join(f"{k}:{v}" for k, v in picks.items()),
        "baseScore": score,
        "baseSeverity": "CRITICAL" if score >= 9 else "HIGH" if score >= 7 else "MEDIUM",
    }
    data.update({name: values[picks[k]] for k, (name, values) in V31.items()})
    return {"source": source, "type": kind, "cvssData": data,
            "exploitabilityScore": round(rng.uniform(0.5, 3.9), 1),
            "impactScore": round(rng.uniform(1.4, 6.0), 1)}  # fmt: skip


def v40(rng: random.Random, source: str) -> dict[str, object]:
    score = round(rng.uniform(2.0, 10.0), 1)
    data: dict[str, object] = {
        "version": "4.0",
        "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "baseScore": score,
        "baseSeverity": "CRITICAL" if score >= 9 else "HIGH" if score >= 7 else "MEDIUM",
        "attackVector": "NETWORK", "attackComplexity": "LOW", "attackRequirements": "NONE",
        "privilegesRequired": "LOW", "userInteraction": "NONE",
        "vulnConfidentialityImpact": "HIGH", "vulnIntegrityImpact": "HIGH",
        "vulnAvailabilityImpact": "HIGH", "subConfidentialityImpact": "NONE",
        "subIntegrityImpact": "NONE", "subAvailabilityImpact": "NONE",
    }  # fmt: skip
    data.update(dict.fromkeys(V40_EXTRA, "NOT_DEFINED"))
    return {"source": source, "type": "Secondary", "cvssData": data}


def v2(rng: random.Random) -> dict[str, object]:
    score = round(rng.uniform(1.9, 10.0), 1)
    return {
        "source": "nvd@nist.gov", "type": "Primary",
        "cvssData": {"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P",
                     "baseScore": score, "accessVector": "NETWORK", "accessComplexity": "LOW",
                     "authentication": "NONE", "confidentialityImpact": "PARTIAL",
                     "integrityImpact": "PARTIAL", "availabilityImpact": "PARTIAL"},
        "baseSeverity": "HIGH" if score >= 7 else "MEDIUM",
        "exploitabilityScore": 10.0, "impactScore": 6.4, "acInsufInfo": False,
        "obtainAllPrivilege": False, "obtainUserPrivilege": False,
        "obtainOtherPrivilege": False, "userInteractionRequired": False,
    }  # fmt: skip


def cpe_match(rng: random.Random, part: str, vendor: str, product: str) -> dict[str, object]:
    """One cpeMatch entry: an exact version, or a ``*`` with a version range."""
    major, minor = rng.randint(0, 20), rng.randint(0, 30)
    entry: dict[str, object] = {"vulnerable": part != "h" and rng.random() < 0.9}
    if rng.random() < 0.45:
        version = f"{major}.{minor}.{rng.randint(0, 40)}"
        entry["criteria"] = f"cpe:2.3:{part}:{vendor}:{product}:{version}:*:*:*:*:*:*:*"
    else:
        entry["criteria"] = f"cpe:2.3:{part}:{vendor}:{product}:*:*:*:*:*:*:*:*"
        if rng.random() < 0.6:
            entry["versionStartIncluding"] = f"{major}.{minor}.0"
        entry["versionEndExcluding" if rng.random() < 0.8 else "versionEndIncluding"] = (
            f"{major}.{minor}.{rng.randint(1, 40)}"
        )
    # NVD reuses a match criterion's id wherever the same criterion appears.
    key = f"{entry['criteria']}|{sorted(entry.items())}"
    entry["matchCriteriaId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, key)).upper()
    return entry


def configurations(rng: random.Random, status: str) -> list[dict[str, object]]:
    """Heavy-tailed: many CVEs have a handful of cpeMatch entries, a few have hundreds."""
    if status in ("Awaiting Analysis", "Received", "Undergoing Analysis"):
        return []
    out: list[dict[str, object]] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        part = weighted(rng, CPE_PARTS)
        vendor = f"vendor{rng.randint(0, 4000)}"
        nodes = []
        for _ in range(rng.choice((1, 1, 2))):
            product = f"product_{rng.randint(0, 20000)}"
            count = min(int(rng.paretovariate(1.15) * 3.5), 600)
            matches = [cpe_match(rng, part, vendor, product) for _ in range(count)]
            nodes.append({"operator": "OR", "negate": False, "cpeMatch": matches})
        config: dict[str, object] = {"nodes": nodes}
        if len(nodes) > 1:
            config["operator"] = "AND"
        out.append(config)
    return out


def record(rng: random.Random, n: int) -> dict[str, object]:
    status = weighted(rng, STATUS)
    cve_id = f"CVE-{YEAR}-{n + 1:04d}"
    cna = rng.choice(CNAS)
    if status == "Rejected":
        return {"cve": {
            "id": cve_id, "sourceIdentifier": cna, "published": stamp(rng, YEAR),
            "lastModified": stamp(rng, YEAR + 1), "vulnStatus": status, "cveTags": [],
            "descriptions": [{"lang": "en", "value": "Rejected reason: This CVE ID has been "
                              "rejected or withdrawn by its CVE Numbering Authority."}],
            "metrics": {}, "references": []}}  # fmt: skip
    descriptions = [{"lang": "en", "value": text(rng, WORDS, 200, 800)}]
    if rng.random() < 0.4:
        descriptions.append({"lang": "es", "value": text(rng, ES_WORDS, 200, 800)})
    metrics: dict[str, list[dict[str, object]]] = {}
    analysed = status in ("Analyzed", "Modified")
    v31s = [v31(rng, "nvd@nist.gov", "Primary")] if analysed else []
    if cna != "cve@mitre.org" and rng.random() < 0.75:
        v31s.append(v31(rng, cna, "Secondary"))
    if v31s:
        metrics["cvssMetricV31"] = v31s
    if rng.random() < 0.18:
        metrics["cvssMetricV40"] = [v40(rng, cna)]
    if rng.random() < 0.05:
        metrics["cvssMetricV2"] = [v2(rng)]
    weaknesses = [
        {"source": src, "type": kind,
         "description": [{"lang": "en", "value": rng.choice(CWES)}]}
        for src, kind in (("nvd@nist.gov", "Primary"), (cna, "Secondary"))
        if rng.random() < 0.7
    ]  # fmt: skip
    references = [
        {"url": f"https://{rng.choice(HOSTS)}/{text(rng, WORDS, 20, 90).replace(' ', '/')}",
         "source": rng.choice((cna, "af854a3a-2127-422b-91ae-364da2661108")),
         "tags": rng.sample(TAGS, rng.randint(0, 3)) if analysed else []}
        for _ in range(rng.randint(5, 20))
    ]  # fmt: skip
    cve: dict[str, object] = {
        "id": cve_id, "sourceIdentifier": cna, "published": stamp(rng, YEAR),
        "lastModified": stamp(rng, YEAR + 1), "vulnStatus": status, "cveTags": [],
        "descriptions": descriptions, "metrics": metrics,
    }  # fmt: skip
    if weaknesses:
        cve["weaknesses"] = weaknesses
    configs = configurations(rng, status)
    if configs:
        cve["configurations"] = configs
    cve["references"] = references
    return {"cve": cve}


def synthesise(plain: Path, gz: Path, records: int, seed: int) -> int:
    """Write the feed plain and gzip-compressed; the number of advisories expected (records
    that are not Rejected)."""
    rng = random.Random(seed)
    expected = 0
    head = {"resultsPerPage": records, "startIndex": 0, "totalResults": records,
            "format": "NVD_CVE", "version": "2.0",
            "timestamp": f"{YEAR + 1}-12-01T03:00:01.123"}  # fmt: skip
    with plain.open("w", encoding="utf-8") as out, gzip.open(gz, "wt", 6, "utf-8") as zout:
        start = json.dumps(head)[:-1] + ', "vulnerabilities": ['
        out.write(start)
        zout.write(start)
        for n in range(records):
            item = record(rng, n)
            cve = item["cve"]
            assert isinstance(cve, dict)
            expected += cve["vulnStatus"] != "Rejected"
            chunk = ("," if n else "") + json.dumps(item)
            out.write(chunk)
            zout.write(chunk)
        out.write("]}")
        zout.write("]}")
    return expected


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB, stdout) of one process, which must succeed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.stderr.write(err.read().decode())
            raise SystemExit(f"{argv[:4]} exited {proc.returncode}")
        return elapsed, usage.ru_maxrss // 1024, out.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from patchwarden.adapters.vulndb import SqliteVulnDb

    exe = Path(sys.executable).with_name("patchwarden")
    wired = subprocess.run([exe, "db", "--help"], capture_output=True).returncode == 0
    cli = [str(exe)] if wired else [sys.executable, "-c", SHIM]
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="pw-bench-nvd-") as tmp:
        env = {**os.environ, "PATCHWARDEN_HOME": str(Path(tmp) / "home")}
        plain = Path(tmp) / f"nvdcve-2.0-{YEAR}.json"
        gz = Path(tmp) / f"nvdcve-2.0-{YEAR}.json.gz"
        t0 = time.perf_counter()
        expected = synthesise(plain, gz, args.records, args.seed)
        made = time.perf_counter() - t0
        sizes = (plain.stat().st_size, gz.stat().st_size)
        kinds: dict[str, list[str]] = {
            "stream plain": [py, "-c", STREAM, str(plain)],
            "stream gz": [py, "-c", STREAM, str(gz)],
            "load+extract plain": [py, "-c", LOAD, str(plain), "plain", "extract"],
            "load+extract gz": [py, "-c", LOAD, str(gz), "gz", "extract"],
            "load plain": [py, "-c", LOAD, str(plain), "plain", "count"],
            "load+extract plain nogc": [py, "-c", LOAD, str(plain), "plain", "extract", "nogc"],
            "import gz": [*cli, "db", "import", str(gz), "--db"],
            "import plain": [*cli, "db", "import", str(plain), "--db"],
        }
        results: dict[str, list[tuple[float, int]]] = {k: [] for k in kinds}
        db_records = 0
        for n in range(args.runs):
            for kind, argv in kinds.items():
                db = Path(tmp) / f"db-{kind.replace(' ', '-')}-{n}" / "vulndb.sqlite"
                if kind.startswith("import"):
                    argv = [*argv, str(db)]
                secs, rss, out = run(argv, env)
                results[kind].append((secs, rss))
                if kind.startswith("import"):
                    store = SqliteVulnDb(db)
                    db_records = sum(f.records for f in store.feeds())
                    store.close()
                    shutil.rmtree(db.parent)
                    count = db_records
                else:
                    count = int(out.split()[-1])
                want = args.records if kind == "load plain" else expected
                assert count == want, f"{kind}: {count} advisories, expected {want}"
            print(f"round {n + 1}/{args.runs} done", file=sys.stderr)

    def med(kind: str) -> tuple[float, int]:
        rows = results[kind]
        return statistics.median(s for s, _ in rows), int(statistics.median(m for _, m in rows))

    mib = 1 << 20
    print(
        f"input: {args.records:,} CVE records ({expected:,} not rejected), "
        f"{sizes[0] / mib:.1f} MiB JSON ({sizes[0] / args.records / 1000:.1f} kB/record), "
        f"{sizes[1] / mib:.1f} MiB gzip (synthesised in {made:.1f} s); database: "
        f"{db_records:,} advisories; runs: {args.runs} (median); cores: {os.cpu_count()}"
        + ("" if wired else "; db group not wired in cli/main.py: run through a shim")
    )
    rows = (
        ("streaming parse, plain (`nvd.parse`)", "stream plain", "load+extract plain"),
        ("streaming parse, gzip", "stream gz", "load+extract gz"),
        ("`json.load` + extraction, plain (reference)", "load+extract plain", "load+extract plain"),
        ("`json.load` + extraction, gzip (reference)", "load+extract gz", "load+extract gz"),
        ("`json.load` alone, plain", "load plain", "load+extract plain"),
        (
            "`json.load` + extraction, plain, `gc.disable()`",
            "load+extract plain nogc",
            "load+extract plain",
        ),
        ("`patchwarden db import FILE`, gzip", "import gz", "load+extract gz"),
        ("`patchwarden db import FILE`, plain", "import plain", "load+extract plain"),
    )
    print("| step | median s | peak RSS MiB | vs `json.load` (same file): time | memory |")
    print("|---|---:|---:|---:|---:|")
    for label, kind, ref in rows:
        (secs, rss), (ref_s, ref_m) = med(kind), med(ref)
        print(f"| {label} | {secs:.2f} | {rss} | {secs / ref_s:.2f}x | {rss / ref_m:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
