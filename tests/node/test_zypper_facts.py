"""The node component on a SUSE (zypper/rpm) root: detection (vs dnf's), the files it lists,
zypper's command lines, and Scan and Install against the fake server with a fake ``zypper``
and ``rpm`` on PATH (stdlib only, 3.6+)."""

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

from patchwarden import wire, zyppercmd
from patchwarden.node import facts
from patchwarden.node.loop import Node

FAKE_ZYPPER = r"""#!{python}
import json, os, sys
home = os.environ.get("HOME", "")
macros = os.path.join(home, ".rpmmacros")
entry = {{"argv": sys.argv[1:], "lc_all": os.environ.get("LC_ALL", "")}}
entry["rpmmacros"] = open(macros).read() if os.path.isfile(macros) else ""
entry["zypp_conf"] = os.environ.get("ZYPP_CONF", "")
entry["zypp_logfile"] = os.environ.get("ZYPP_LOGFILE", "")
with open(os.environ["FAKE_ZYPPER_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\n")
codes = json.loads(os.environ.get("FAKE_ZYPPER_CODES", "{{}}"))
key = " ".join(sys.argv[1:])
code = 0
for pattern, value in codes.items():
    if pattern in key:
        code = value
if code and code not in (102, 103, 106):
    sys.stdout.write('<?xml version="1.0"?>\n<stream>\n')
    sys.stdout.write('<message type="error">No provider of &apos;' + sys.argv[-1]
                     + '&apos; found.</message>\n</stream>\n')
sys.exit(code)
"""

FAKE_RPM = """#!/bin/sh
if [ "$1" = "--eval" ]; then echo x86_64; exit 0; fi
exit 1
"""

SLES = (
    'NAME="SLES"\nVERSION_ID="15.5"\nID="sles"\nID_LIKE="suse"\n'
    'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\n'
)
AL2023 = 'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n'
DBPATH = "usr/lib/sysimage/rpm"
FOO = {"name": "foo", "arch": "noarch", "version": "1.1-1.1", "spec": "foo.noarch=1.1-1.1"}
QUX = {"name": "qux", "arch": "x86_64", "version": "3.1-1", "spec": "qux.x86_64=3.1-1"}


def make_suse_root(base):
    """A small SLES 15 SP5 root laid out as zypper leaves it (``var/lib/rpm`` a link to
    ``usr/lib/sysimage/rpm``, one repository with its raw and solv caches)."""
    root = os.path.join(base, "sles")
    write(os.path.join(root, DBPATH, "Packages.db"), "ndb", "w")
    write(os.path.join(root, DBPATH, ".rpm.lock"), "")
    os.makedirs(os.path.join(root, "var/lib"))
    os.symlink("../../usr/lib/sysimage/rpm", os.path.join(root, "var/lib/rpm"))
    write(os.path.join(root, "etc/os-release"), SLES)
    write(os.path.join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n")
    write(os.path.join(root, "etc/hostname"), "suse-node\n")
    write(os.path.join(root, "etc/zypp/zypp.conf"), "[main]\nsolver.onlyRequires = true\n")
    write(os.path.join(root, "etc/zypp/locks"), "type: package\nmatch_exact: 1\nsolvable_name: x\n")
    write(os.path.join(root, "etc/zypp/repos.d/sandbox.repo"), "[sandbox]\nbaseurl=x\n")
    write(os.path.join(root, "etc/zypp/repos.d/notes.txt"), "not a repo file\n")
    write(os.path.join(root, "etc/zypp/credentials.d/SCCcredentials"), "secret\n")
    raw = os.path.join(root, "var/cache/zypp/raw/sandbox")
    write(os.path.join(raw, "repodata/repomd.xml"), "<repomd/>\n")
    write(os.path.join(raw, "repodata/aaa-primary.xml.gz"), "primary")
    write(os.path.join(raw, "repodata/bbb-updateinfo.xml.gz"), "updateinfo")
    write(os.path.join(raw, "cookie"), "raw cookie")
    solv = os.path.join(root, "var/cache/zypp/solv")
    write(os.path.join(solv, "sandbox/solv"), "solv")
    write(os.path.join(solv, "sandbox/solv.idx"), "idx")
    write(os.path.join(solv, "sandbox/cookie"), "solv cookie")
    write(os.path.join(solv, "@System/solv"), "system solv")
    write(os.path.join(root, "var/cache/zypp/packages/sandbox/foo.rpm"), "rpm")
    write(os.path.join(root, "var/lib/zypp/AnonymousUniqueId"), "id")
    return root


EXPECTED = sorted(
    [
        "etc/hostname",
        "etc/machine-id",
        "etc/os-release",
        "etc/zypp/locks",
        "etc/zypp/repos.d/sandbox.repo",
        "etc/zypp/zypp.conf",
        DBPATH + "/Packages.db",
        "var/cache/zypp/raw/sandbox/cookie",
        "var/cache/zypp/raw/sandbox/repodata/aaa-primary.xml.gz",
        "var/cache/zypp/raw/sandbox/repodata/bbb-updateinfo.xml.gz",
        "var/cache/zypp/raw/sandbox/repodata/repomd.xml",
        "var/cache/zypp/solv/sandbox/cookie",
        "var/cache/zypp/solv/sandbox/solv",
        "var/cache/zypp/solv/sandbox/solv.idx",
    ]
)


class ZypperNodeTestCase(NodeTestCase):
    def setUp(self):
        super().setUp()
        shutil.rmtree(self.root)  # no Debian root here
        self.root = make_suse_root(self.tmp)
        self.zypper_log = os.path.join(self.tmp, "zypper.log")
        os.environ["FAKE_ZYPPER_LOG"] = self.zypper_log
        os.environ["FAKE_ZYPPER_CODES"] = "{}"
        self.fake_program("zypper", FAKE_ZYPPER.format(python=sys.executable))
        self.fake_program("rpm", FAKE_RPM)

    def zypper_calls(self):
        return logged_calls(self.zypper_log)

    def listed(self):
        return sorted(f.path for f in facts.collect(self.root)[0].files)


class ZypperFactsTest(ZypperNodeTestCase):
    def test_a_suse_rpm_root_is_zyppers_and_a_rhel_one_stays_dnfs(self):
        self.assertEqual(facts.detect_manager(self.root), "zypper")
        rhel = os.path.join(self.tmp, "rhel")
        write(os.path.join(rhel, "var/lib/rpm/rpmdb.sqlite"), "SQLite format 3\x00")
        write(os.path.join(rhel, "etc/os-release"), AL2023)
        write(os.path.join(rhel, "etc/yum.repos.d/a.repo"), "[a]\n")
        self.assertEqual(facts.detect_manager(rhel), "dnf")
        os.makedirs(os.path.join(rhel, "etc/zypp"))  # zypper installed on a RHEL host
        self.assertEqual(facts.detect_manager(rhel), "dnf")
        # without os-release: etc/zypp (and no dnf configuration) tells
        os.unlink(os.path.join(self.root, "etc/os-release"))
        self.assertEqual(facts.detect_manager(self.root), "zypper")
        shutil.rmtree(os.path.join(self.root, "etc/zypp"))
        self.assertEqual(facts.detect_manager(self.root), "dnf")
        # an openSUSE os-release without etc/zypp
        write(os.path.join(self.root, "etc/os-release"), 'ID="opensuse-leap"\nID_LIKE="suse"\n')
        self.assertEqual(facts.detect_manager(self.root), "zypper")
        self.assertEqual(facts.detect_manager(make_root(os.path.join(self.tmp, "deb"))), "apt")

    def test_the_files_zypper_reads_with_their_hashes(self):
        found, paths = facts.collect(self.root, self.state_dir)
        by_path = {f.path: f for f in found.files}
        self.assertEqual(sorted(by_path), EXPECTED)
        for rel, item in by_path.items():
            with open(os.path.join(self.root, rel), "rb") as fh:
                data = fh.read()
            self.assertEqual(item.sha256, sha(data), rel)
            self.assertEqual(paths[item.sha256], os.path.join(self.root, rel))
        self.assertEqual(found.manager, "zypper")
        self.assertEqual(found.arch, "x86_64")  # rpm --eval %{_arch}
        self.assertEqual(found.hostname, "suse-node")
        self.assertFalse(found.in_chroot)
        self.assertIsNone(found.boot_time)  # not the root /
        self.assertEqual(wire.RootFacts.from_json(found.to_json()), found)

    def test_candidate_paths_name_only_what_zypper_reads(self):
        candidates = facts.candidate_paths(self.root, "zypper")
        self.assertEqual(len(candidates), len(set(candidates)))
        self.assertFalse([p for p in candidates if "@System" in p or "credentials" in p])
        self.assertFalse([p for p in candidates if p.startswith("var/lib/rpm/")])  # a link
        self.assertFalse([p for p in candidates if "/packages/" in p or p.endswith(".lock")])
        self.assertNotIn("etc/zypp/repos.d/notes.txt", candidates)
        self.assertFalse([p for p in candidates if p.startswith("var/lib/zypp")])


class ZypperCommandTest(unittest.TestCase):
    def test_the_argv_of_install_and_refresh(self):
        self.assertEqual(zyppercmd.spec("foo", "noarch", "1.1-1.1"), "foo.noarch=1.1-1.1")
        self.assertEqual(
            zyppercmd.prefix("/srv/sles/"), ["zypper", "--root", "/srv/sles", "--non-interactive"]
        )
        self.assertEqual(zyppercmd.prefix("/"), ["zypper", "--non-interactive"])
        self.assertEqual(
            zyppercmd.install_args(["foo.noarch=1.1-1.1"]),
            [
                "--xmlout",
                "--no-refresh",
                "install",
                "--oldpackage",
                "--no-recommends",
                "foo.noarch=1.1-1.1",
            ],
        )
        self.assertIn("--dry-run", zyppercmd.install_args(["x"], dry_run=True))
        self.assertEqual(zyppercmd.refresh_args(), ["--xmlout", "refresh"])
        env = zyppercmd.environment("/srv/sles", "/tmp/h", "/tmp/h/zypp.conf")
        self.assertEqual(
            env,
            {
                "LC_ALL": "C.UTF-8",
                "HOME": "/tmp/h",
                "ZYPP_CONF": "/tmp/h/zypp.conf",
                "ZYPP_LOGFILE": "/srv/sles/var/log/zypper.log",
            },
        )
        self.assertEqual(zyppercmd.environment("/"), {"LC_ALL": "C.UTF-8"})

    def test_the_error_line(self):
        out = (
            '<?xml version="1.0"?>\n<stream>\n<message type="info">Loading.</message>\n'
            '<message type="error">File &apos;./foo.rpm&apos;\n not found.</message>\n</stream>\n'
        )
        self.assertEqual(
            zyppercmd.error_line(out, "", 8, "zypper install"),
            "zypper install: File './foo.rpm' not found.",
        )
        self.assertEqual(
            zyppercmd.error_line("<stream>", "one\nlast line\n", 1, "zypper"), "zypper: last line"
        )
        self.assertEqual(zyppercmd.error_line("", "", 4, "zypper"), "zypper: exit status 4")


class ZypperExecuteTest(ZypperNodeTestCase):
    def node(self, server):
        return Node(self.config(server), sleep=lambda s: None, poll_wait=0)

    def test_scan_runs_zypper_refresh_confined_to_the_root(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-1", Operation="Scan")]
            self.assertEqual(self.node(server).run(once=True), 0)
            self.assertEqual(server.results["scan-1"]["status"], "Success")
            (refresh,) = self.zypper_calls()
            prefix = zyppercmd.prefix(self.root)
            self.assertEqual(refresh["argv"], prefix[1:] + zyppercmd.refresh_args())
            self.assertEqual(refresh["lc_all"], "C.UTF-8")
            self.assertEqual(refresh["rpmmacros"], "%_dbpath /usr/lib/sysimage/rpm\n")
            self.assertEqual(refresh["zypp_conf"], os.path.join(self.root, "etc/zypp/zypp.conf"))
            self.assertEqual(refresh["zypp_logfile"], os.path.join(self.root, "var/log/zypper.log"))
            sent = server.evaluations[0]["facts"]
            self.assertEqual(sent["manager"], "zypper")
            self.assertEqual(sorted(f["path"] for f in sent["files"]), EXPECTED)

    def test_a_failing_refresh_is_a_warning_and_skipped_repositories_are_not(self):
        os.environ["FAKE_ZYPPER_CODES"] = json.dumps({"refresh": 4})
        with FakeServer() as server:
            server.deliveries = [delivery("scan-2", Operation="Scan")]
            self.node(server).run(once=True)
            result = server.results["scan-2"]
            self.assertEqual(result["status"], "Success")
            self.assertIn(
                "warning: the package lists were not refreshed: zypper refresh:", result["output"]
            )
        os.environ["FAKE_ZYPPER_CODES"] = json.dumps({"refresh": 106})
        with FakeServer() as server:
            server.deliveries = [delivery("scan-3", Operation="Scan")]
            self.node(server).run(once=True)
            self.assertNotIn("warning", server.results["scan-3"]["output"])

    def test_install_runs_exactly_the_order_then_each_alone_on_failure(self):
        os.environ["FAKE_ZYPPER_CODES"] = json.dumps({"qux.x86_64=": 104})
        with FakeServer() as server:
            server.order = {"packages": [FOO, QUX], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 1, "FAILED": 1}
            server.deliveries = [delivery("inst-1", Operation="Install")]
            self.node(server).run(once=True)
            prefix = zyppercmd.prefix(self.root)[1:]
            self.assertEqual(
                [c["argv"] for c in self.zypper_calls()],
                [
                    prefix + zyppercmd.refresh_args(),
                    prefix + zyppercmd.install_args([FOO["spec"], QUX["spec"]]),
                    prefix + zyppercmd.install_args([FOO["spec"]]),
                    prefix + zyppercmd.install_args([QUX["spec"]]),
                ],
            )
            results = server.evaluations[1]["results"]
            self.assertEqual([r["name"] for r in results], ["foo", "qux"])
            self.assertEqual([r["returncode"] for r in results], [0, 104])
            self.assertEqual(
                results[1]["error"],
                "zypper install: No provider of 'qux.x86_64=3.1-1' found.",
            )
            self.assertEqual(server.results["inst-1"]["status"], "Failed")

    def test_install_in_one_transaction_when_it_works_reboot_needed_is_success(self):
        os.environ["FAKE_ZYPPER_CODES"] = json.dumps({"install": 102})
        with FakeServer() as server:
            server.order = {"packages": [FOO, QUX], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 2}
            server.deliveries = [delivery("inst-2", Operation="Install", RebootOption="NoReboot")]
            self.node(server).run(once=True)
            self.assertEqual(len(self.zypper_calls()), 2)
            results = server.evaluations[1]["results"]
            self.assertEqual([r["returncode"] for r in results], [0, 0])
            self.assertEqual(server.results["inst-2"]["status"], "Success")


if __name__ == "__main__":
    unittest.main()
