"""The node component on an Alpine (apk) root: detection, the files it lists, apk's command
lines, and Scan and Install against the fake server with a fake ``apk`` on PATH (stdlib
only, 3.6+).

The root is a tiny copy of ``tests/data/alpine/alpine_root.py``'s layout (that writer needs
Python 3.8); on 3.8+ the listed files are also checked on a root the real writer made."""

import hashlib
import json
import os
import shutil
import sys
import unittest

from nodetest_support import (
    FakeServer,
    NodeTestCase,
    delivery,
    logged_calls,
    make_root,
    sha,
    write,
)

from patchwarden import apkcmd, wire
from patchwarden.node import facts
from patchwarden.node.loop import Node

ALPINE_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
ALPINE_DATA = os.path.join(ALPINE_DATA, "alpine")

MIRROR = "https://dl-cdn.alpinelinux.org/alpine"
MAIN = MIRROR + "/v3.19/main"
COMMUNITY = MIRROR + "/v3.19/community"
TESTING = MIRROR + "/edge/testing"
OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'
INSTALLED = "P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\n\nP:zlib\nV:1.3-r2\nA:x86_64\n\n"

FAKE_APK = r"""#!{python}
import json, os, sys
entry = {{"argv": sys.argv[1:], "lc_all": os.environ.get("LC_ALL", "")}}
with open(os.environ["FAKE_APK_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\n")
codes = json.loads(os.environ.get("FAKE_APK_CODES", "{{}}"))
key = " ".join(sys.argv[1:])
code = 0
for pattern, value in codes.items():
    if pattern in key:
        code = value
if code:
    sys.stdout.write("fetch " + {main!r} + "/x86_64/APKINDEX.tar.gz\n")
    sys.stderr.write("ERROR: unable to select packages:\n")
    sys.stderr.write("  " + sys.argv[-1] + " (no such package):\n")
    sys.stderr.write("    required by: world[" + sys.argv[-1] + "]\n")
sys.exit(code)
"""

ZLIB = {"name": "zlib", "arch": "x86_64", "version": "1.3.1-r0", "spec": "zlib=1.3.1-r0"}
MUSL = {
    "name": "musl",
    "arch": "x86_64",
    "version": "1.2.4_git20230717-r5",
    "spec": "musl=1.2.4_git20230717-r5",
}


def cache_name(url):
    """``APKINDEX.<first 4 bytes of SHA-1(url), hex>.tar.gz`` (apk-tools' cache name)."""
    return f"APKINDEX.{hashlib.sha1(url.encode()).hexdigest()[:8]}.tar.gz"


def make_apk_root(base):
    """A small Alpine 3.19 root laid out as the fixture writer lays it out (the index
    contents do not matter to the node: it only lists and hashes files)."""
    root = os.path.join(base, "alpine")
    write(os.path.join(root, "etc/os-release"), OS_RELEASE)
    write(os.path.join(root, "etc/hostname"), "alpine-node\n")
    write(os.path.join(root, "etc/apk/arch"), "x86_64\n")
    write(
        os.path.join(root, "etc/apk/repositories"),
        f"{MAIN}\n{COMMUNITY}\n#{MIRROR}/v3.19/testing\n\n@testing {TESTING}\n",
    )
    write(os.path.join(root, "etc/apk/world"), "busybox\nzlib\n")
    write(os.path.join(root, "lib/apk/db/installed"), INSTALLED)
    write(os.path.join(root, "lib/apk/db/lock"), "")
    write(os.path.join(root, "lib/apk/db/scripts.tar"), "scripts")
    cache = os.path.join(root, "var/cache/apk")
    write(os.path.join(cache, cache_name(MAIN)), b"\x1f\x8bmain", "wb")
    write(os.path.join(cache, cache_name(COMMUNITY)), b"\x1f\x8bcommunity", "wb")
    write(os.path.join(cache, "zlib-1.3.1-r0.a1b2c3d4.apk"), b"package", "wb")
    write(os.path.join(cache, "installed"), "cache record")
    return root


EXPECTED = sorted(
    [
        "etc/apk/arch",
        "etc/apk/repositories",
        "etc/hostname",
        "etc/os-release",
        "lib/apk/db/installed",
        "var/cache/apk/" + cache_name(COMMUNITY),
        "var/cache/apk/" + cache_name(MAIN),
    ]
)


class ApkNodeTestCase(NodeTestCase):
    def setUp(self):
        super().setUp()
        shutil.rmtree(self.root)  # no Debian root here
        self.root = make_apk_root(self.tmp)
        self.apk_log = os.path.join(self.tmp, "apk.log")
        os.environ["FAKE_APK_LOG"] = self.apk_log
        os.environ["FAKE_APK_CODES"] = "{}"
        self.fake_program("apk", FAKE_APK.format(python=sys.executable, main=MAIN))

    def apk_calls(self):
        return logged_calls(self.apk_log)

    def listed(self):
        return sorted(f.path for f in facts.collect(self.root)[0].files)


class ApkFactsTest(ApkNodeTestCase):
    def test_an_apk_database_makes_an_apk_root(self):
        self.assertEqual(facts.detect_manager(self.root), "apk")
        other = make_root(os.path.join(self.tmp, "debian"))
        self.assertEqual(facts.detect_manager(other), "apt")
        os.unlink(os.path.join(self.root, "lib/apk/db/installed"))
        self.assertEqual(facts.detect_manager(self.root), "apt")  # neither: apt, as before
        write(os.path.join(self.root, "usr/lib/apk/db/installed"), INSTALLED)
        self.assertEqual(facts.detect_manager(self.root), "apk")  # apk 3 / merged-usr

    def test_the_files_apk_reads_with_their_hashes(self):
        found, paths = facts.collect(self.root, self.state_dir)
        by_path = {f.path: f for f in found.files}
        self.assertEqual(sorted(by_path), EXPECTED)
        for rel, item in by_path.items():
            with open(os.path.join(self.root, rel), "rb") as fh:
                data = fh.read()
            self.assertEqual(item.sha256, sha(data), rel)
            self.assertEqual(item.size, len(data), rel)
            self.assertEqual(paths[item.sha256], os.path.join(self.root, rel))
        self.assertEqual(found.manager, "apk")
        self.assertEqual(found.arch, "x86_64")  # etc/apk/arch
        self.assertEqual(found.hostname, "alpine-node")
        self.assertFalse(found.in_chroot)
        self.assertIsNone(found.boot_time)  # not the root /
        self.assertEqual(wire.RootFacts.from_json(found.to_json()), found)

    def test_candidate_paths_name_only_what_the_adapter_reads(self):
        write(os.path.join(self.root, "etc/apk/repositories.d/extra.list"), MIRROR + "/x\n")
        write(os.path.join(self.root, "etc/apk/repositories.d/notes.txt"), "not a list\n")
        candidates = facts.candidate_paths(self.root, "apk")
        self.assertIn("etc/apk/repositories.d/extra.list", candidates)
        self.assertNotIn("etc/apk/repositories.d/notes.txt", candidates)
        self.assertEqual(len(candidates), len(set(candidates)))
        self.assertFalse([p for p in candidates if p.endswith((".apk", "/installed.cache"))])
        self.assertFalse([p for p in candidates if p.startswith("var/cache/apk/installed")])
        self.assertFalse([p for p in candidates if "world" in p or "scripts" in p])
        self.assertIn("etc/apk/repositories.d/extra.list", self.listed())

    def test_an_absolute_cache_link_is_taken_inside_the_root(self):
        os.symlink("/var/cache/apk", os.path.join(self.root, "etc/apk/cache"))
        self.assertEqual(facts.apk_cache_dir(self.root), "var/cache/apk")
        self.assertEqual(self.listed(), EXPECTED)

    def test_a_real_cache_directory_is_the_one_apk_uses(self):
        cache = os.path.join(self.root, "etc/apk/cache")
        os.makedirs(cache)
        write(os.path.join(cache, cache_name(MAIN)), b"\x1f\x8bnewer", "wb")
        self.assertEqual(
            self.listed(),
            sorted(
                ["etc/apk/cache/" + cache_name(MAIN)]
                + [p for p in EXPECTED if not p.startswith("var/cache/apk/")]
            ),
        )

    def test_a_link_leaving_the_root_lists_no_index(self):
        os.symlink("../../../outside", os.path.join(self.root, "etc/apk/cache"))
        os.makedirs(os.path.join(self.tmp, "outside"))
        self.assertIsNone(facts.apk_cache_dir(self.root))
        self.assertEqual(self.listed(), [p for p in EXPECTED if "APKINDEX" not in p])

    def test_a_local_repository_index_is_read_inside_the_root(self):
        with open(os.path.join(self.root, "etc/apk/repositories"), "a") as fh:
            fh.write("/media/cdrom/apks\nfile:///srv/repo\n@tagged /srv/tagged\n")
        for rel in ("media/cdrom/apks", "srv/repo", "srv/tagged"):
            write(os.path.join(self.root, rel, "x86_64/APKINDEX.tar.gz"), b"\x1f\x8b", "wb")
        listed = self.listed()
        self.assertIn("media/cdrom/apks/x86_64/APKINDEX.tar.gz", listed)
        self.assertIn("srv/repo/x86_64/APKINDEX.tar.gz", listed)
        self.assertNotIn("srv/tagged/x86_64/APKINDEX.tar.gz", listed)  # tagged: no updates

    @unittest.skipIf(sys.version_info < (3, 8), "the fixture writer needs Python 3.8")
    def test_a_root_from_the_alpine_fixture_writer(self):
        sys.path.insert(0, ALPINE_DATA)
        self.addCleanup(sys.path.remove, ALPINE_DATA)
        from pathlib import Path

        import alpine_root

        root = str(alpine_root.write_alpine_root(Path(self.tmp) / "fixture"))
        self.assertEqual(facts.detect_manager(root), "apk")
        found, _ = facts.collect(root)
        self.assertEqual(sorted(f.path for f in found.files), EXPECTED)
        self.assertEqual(found.arch, alpine_root.ARCH)


class ApkCommandTest(unittest.TestCase):
    def test_the_argv_of_install_and_update(self):
        self.assertEqual(apkcmd.spec("zlib", "1.3.1-r0"), "zlib=1.3.1-r0")
        specs = ["zlib=1.3.1-r0", "musl=1.2.4-r5"]
        self.assertEqual(
            apkcmd.install_argv("/srv/alpine/", specs),
            ["apk", "--root", "/srv/alpine", "--no-progress", "add", *specs],
        )
        self.assertEqual(
            apkcmd.install_argv("/", ["zlib=1.3.1-r0"]),
            ["apk", "--root", "/", "--no-progress", "add", "zlib=1.3.1-r0"],
        )
        self.assertEqual(
            apkcmd.update_argv("/srv/alpine"),
            ["apk", "--root", "/srv/alpine", "--no-progress", "update"],
        )

    def test_the_error_line(self):
        text = (
            "fetch https://example.org/x86_64/APKINDEX.tar.gz\n"
            "ERROR: unable to select packages:\n"
            "  zlib-9 (no such package):\n"
            "    required by: world[zlib=9]\n"
            "OK: 8 MiB in 15 packages\n"
        )
        self.assertEqual(
            apkcmd.error_line(text, "apk add"),
            "apk add: ERROR: unable to select packages: zlib-9 (no such package):"
            " required by: world[zlib=9]",
        )
        self.assertEqual(apkcmd.error_line("one\nlast line\n", "apk"), "apk: last line")
        self.assertEqual(apkcmd.error_line("", "apk"), "")


class ApkExecuteTest(ApkNodeTestCase):
    def node(self, server):
        return Node(self.config(server), sleep=lambda s: None, poll_wait=0)

    def test_scan_runs_apk_update_in_the_root(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-1", Operation="Scan")]
            self.assertEqual(self.node(server).run(once=True), 0)
            self.assertEqual(server.results["scan-1"]["status"], "Success")
            (refresh,) = self.apk_calls()
            self.assertEqual(refresh["argv"], apkcmd.update_argv(self.root)[1:])
            self.assertEqual(refresh["lc_all"], "C")
            sent = server.evaluations[0]["facts"]
            self.assertEqual(sent["manager"], "apk")
            self.assertEqual(sent["arch"], "x86_64")
            self.assertEqual(sorted(f["path"] for f in sent["files"]), EXPECTED)

    def test_a_failing_update_is_a_warning(self):
        os.environ["FAKE_APK_CODES"] = json.dumps({"update": 1})
        with FakeServer() as server:
            server.deliveries = [delivery("scan-2", Operation="Scan")]
            self.node(server).run(once=True)
            result = server.results["scan-2"]
            self.assertEqual(result["status"], "Success")
            self.assertIn(
                "warning: the package lists were not refreshed: apk update: ERROR: unable",
                result["output"],
            )

    def test_install_runs_exactly_the_order_then_each_alone_on_failure(self):
        os.environ["FAKE_APK_CODES"] = json.dumps({"musl=": 1})
        with FakeServer() as server:
            server.order = {"packages": [ZLIB, MUSL], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 1, "FAILED": 1}
            server.deliveries = [delivery("inst-1", Operation="Install")]
            self.node(server).run(once=True)
            argvs = [c["argv"] for c in self.apk_calls()]
            self.assertEqual(
                argvs,
                [
                    apkcmd.update_argv(self.root)[1:],
                    apkcmd.install_argv(self.root, [ZLIB["spec"], MUSL["spec"]])[1:],
                    apkcmd.install_argv(self.root, [ZLIB["spec"]])[1:],
                    apkcmd.install_argv(self.root, [MUSL["spec"]])[1:],
                ],
            )
            results = server.evaluations[1]["results"]
            self.assertEqual([r["name"] for r in results], ["zlib", "musl"])
            self.assertEqual([r["returncode"] for r in results], [0, 1])
            self.assertTrue(
                results[1]["error"].startswith(
                    "apk add: ERROR: unable to select packages: musl=1.2.4_git20230717-r5"
                ),
                results[1]["error"],
            )
            self.assertEqual(server.evaluations[1]["order"]["packages"], [ZLIB, MUSL])
            self.assertEqual(server.results["inst-1"]["status"], "Failed")

    def test_install_in_one_transaction_when_it_works(self):
        with FakeServer() as server:
            server.order = {"packages": [ZLIB, MUSL], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 2}
            server.deliveries = [delivery("inst-2", Operation="Install", RebootOption="NoReboot")]
            self.node(server).run(once=True)
            self.assertEqual(len(self.apk_calls()), 2)
            results = server.evaluations[1]["results"]
            self.assertEqual([r["returncode"] for r in results], [0, 0])
            self.assertEqual(server.results["inst-2"]["status"], "Success")


if __name__ == "__main__":
    unittest.main()
