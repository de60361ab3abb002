"""The node component on an rpm/dnf root: which files it lists, and Scan and Install
against the fake server with a fake ``dnf`` and ``rpm`` on PATH (stdlib only, 3.6+)."""

import json
import os
import shutil
import sys
import unittest

from nodetest_support import FakeServer, NodeTestCase, delivery, logged_calls, sha, write

from patchwarden import dnfcmd, wire
from patchwarden.node import facts
from patchwarden.node.loop import Node

FAKE_DNF = r"""#!{python}
import json, os, sys
home = os.environ.get("HOME", "")
macros = os.path.join(home, ".rpmmacros")
entry = {{"argv": sys.argv[1:], "home": home, "lc_all": os.environ.get("LC_ALL", "")}}
entry["rpmmacros"] = open(macros).read() if os.path.isfile(macros) else ""
with open(os.environ["FAKE_DNF_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\n")
codes = json.loads(os.environ.get("FAKE_DNF_CODES", "{{}}"))
key = " ".join(sys.argv[1:])
code = 0
for pattern, value in codes.items():
    if pattern in key:
        code = value
if code:
    sys.stdout.write("Last metadata expiration check: 0:00:01 ago.\n")
    sys.stderr.write("Error: Unable to find a match: " + sys.argv[-1] + "\n")
sys.exit(code)
"""

FAKE_RPM = """#!/bin/sh
if [ "$1" = "--eval" ]; then echo aarch64; exit 0; fi
exit 1
"""

AL2023 = 'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\nPLATFORM_ID="platform:al2023"\n'
FOO = {"name": "foo", "arch": "noarch", "version": "1.1-1", "spec": "foo-1.1-1.noarch"}
EPO = {"name": "epo", "arch": "x86_64", "version": "1:0.9-1", "spec": "epo-1:0.9-1.x86_64"}


def make_rpm_root(base):
    """A small Amazon Linux 2023 root (sqlite rpm database, one cached repository)."""
    root = os.path.join(base, "rpmroot")
    write(os.path.join(root, "var/lib/rpm/rpmdb.sqlite"), "SQLite format 3\x00", "w")
    write(os.path.join(root, "var/lib/rpm/rpmdb.sqlite-wal"), "wal")
    write(os.path.join(root, "var/lib/rpm/rpmdb.sqlite-shm"), "shm")
    write(os.path.join(root, "var/lib/rpm/.rpm.lock"), "")
    write(os.path.join(root, "etc/os-release"), AL2023)
    write(os.path.join(root, "etc/system-release"), "Amazon Linux release 2023\n")
    write(os.path.join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n")
    write(os.path.join(root, "etc/hostname"), "rpm-node\n")
    write(os.path.join(root, "etc/dnf/dnf.conf"), "[main]\ngpgcheck=1\n")
    write(os.path.join(root, "etc/dnf/vars/awsregion"), "eu-west-1\n")
    write(os.path.join(root, "etc/dnf/modules.d/nodejs.module"), "[nodejs]\nstate=enabled\n")
    write(os.path.join(root, "etc/yum.repos.d/amazonlinux.repo"), "[amazonlinux]\nbaseurl=x\n")
    write(os.path.join(root, "etc/yum.repos.d/notes.txt"), "not a repo file\n")
    cache = os.path.join(root, "var/cache/dnf")
    repodata = os.path.join(cache, "amazonlinux-0123456789abcdef/repodata")
    write(os.path.join(repodata, "repomd.xml"), "<repomd/>\n")
    write(os.path.join(repodata, "aaa-primary.xml.gz"), "primary")
    write(os.path.join(repodata, "bbb-updateinfo.xml.gz"), "updateinfo")
    write(os.path.join(cache, "amazonlinux-0123456789abcdef/packages/foo.rpm"), "rpm")
    write(os.path.join(cache, "amazonlinux.solv"), "solv")
    write(os.path.join(cache, "amazonlinux-filenames.solvx"), "solvx")
    write(os.path.join(cache, "expired_repos.json"), "[]")
    return root


class DnfNodeTestCase(NodeTestCase):
    def setUp(self):
        super().setUp()
        shutil.rmtree(self.root)  # no Debian root here
        self.root = make_rpm_root(self.tmp)
        self.dnf_log = os.path.join(self.tmp, "dnf.log")
        os.environ["FAKE_DNF_LOG"] = self.dnf_log
        os.environ["FAKE_DNF_CODES"] = "{}"
        self.fake_program("dnf", FAKE_DNF.format(python=sys.executable))
        self.fake_program("rpm", FAKE_RPM)

    def dnf_calls(self):
        return logged_calls(self.dnf_log)

    def prefix(self):
        """The confining options the dnf adapter gives for this root."""
        return dnfcmd.confine_argv(
            self.root,
            os.path.join(self.root, "etc/dnf/dnf.conf"),
            [os.path.join(self.root, "etc/yum.repos.d")],
            "2023",
        )[1:]


class DnfFactsTest(DnfNodeTestCase):
    def test_the_files_dnf_reads_with_their_hashes(self):
        found, paths = facts.collect(self.root, self.state_dir)
        by_path = {f.path: f for f in found.files}
        self.assertEqual(
            sorted(by_path),
            sorted(
                [
                    "etc/dnf/dnf.conf",
                    "etc/os-release",
                    "etc/system-release",
                    "etc/machine-id",
                    "etc/hostname",
                    "etc/yum.repos.d/amazonlinux.repo",
                    "etc/dnf/vars/awsregion",
                    "etc/dnf/modules.d/nodejs.module",
                    "var/lib/rpm/rpmdb.sqlite",
                    "var/lib/rpm/rpmdb.sqlite-wal",
                    "var/cache/dnf/amazonlinux-0123456789abcdef/repodata/repomd.xml",
                    "var/cache/dnf/amazonlinux-0123456789abcdef/repodata/aaa-primary.xml.gz",
                    "var/cache/dnf/amazonlinux-0123456789abcdef/repodata/bbb-updateinfo.xml.gz",
                ]
            ),
        )
        for rel, item in by_path.items():
            with open(os.path.join(self.root, rel), "rb") as fh:
                data = fh.read()
            self.assertEqual(item.sha256, sha(data), rel)
            self.assertEqual(paths[item.sha256], os.path.join(self.root, rel))
        self.assertEqual(found.manager, "dnf")
        self.assertEqual(found.arch, "aarch64")  # rpm --eval %{_arch}
        self.assertFalse(found.in_chroot)
        self.assertIsNone(found.boot_time)
        self.assertEqual(wire.RootFacts.from_json(found.to_json()), found)

    def test_the_sysimage_database_and_a_symlinked_var_lib_rpm(self):
        sysimage = os.path.join(self.root, "usr/lib/sysimage/rpm")
        os.makedirs(os.path.dirname(sysimage))
        os.rename(os.path.join(self.root, "var/lib/rpm"), sysimage)
        os.symlink("../../usr/lib/sysimage/rpm", os.path.join(self.root, "var/lib/rpm"))
        found, _ = facts.collect(self.root)
        listed = [f.path for f in found.files if "rpm" in f.path.split("/")]
        self.assertEqual(
            listed, ["usr/lib/sysimage/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite-wal"]
        )
        self.assertEqual(found.manager, "dnf")

    def test_berkeley_db_files_without_the_environment_files(self):
        db = os.path.join(self.root, "var/lib/rpm")
        shutil.rmtree(db)
        for name in ("Packages", "Name", "Providename", "__db.001", "__db.002", ".dbenv.lock"):
            write(os.path.join(db, name), name)
        found, _ = facts.collect(self.root)
        listed = [f.path for f in found.files if f.path.startswith("var/lib/rpm/")]
        self.assertEqual(
            listed, ["var/lib/rpm/Name", "var/lib/rpm/Packages", "var/lib/rpm/Providename"]
        )

    def test_without_rpm_the_architecture_is_uname(self):
        os.unlink(os.path.join(self.bin, "rpm"))
        os.environ["PATH"] = self.bin
        self.assertEqual(facts.collect(self.root)[0].arch, os.uname().machine)


class DnfExecuteTest(DnfNodeTestCase):
    def node(self, server):
        return Node(self.config(server), sleep=lambda s: None, poll_wait=0)

    def test_scan_runs_makecache_confined_to_the_root(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-1", Operation="Scan")]
            self.assertEqual(self.node(server).run(once=True), 0)
            self.assertEqual(server.results["scan-1"]["status"], "Success")
            (refresh,) = self.dnf_calls()
            self.assertEqual(refresh["argv"], self.prefix() + dnfcmd.MAKECACHE)
            self.assertEqual(refresh["rpmmacros"], "%_dbpath /var/lib/rpm\n")
            self.assertEqual(refresh["lc_all"], "C.UTF-8")
            self.assertFalse(os.path.exists(refresh["home"]))  # removed afterwards
            self.assertEqual(server.evaluations[0]["facts"]["manager"], "dnf")

    def test_a_failing_makecache_is_a_warning(self):
        os.environ["FAKE_DNF_CODES"] = json.dumps({"makecache": 1})
        with FakeServer() as server:
            server.deliveries = [delivery("scan-2", Operation="Scan")]
            self.node(server).run(once=True)
            result = server.results["scan-2"]
            self.assertEqual(result["status"], "Success")
            self.assertIn(
                "warning: the package lists were not refreshed: dnf makecache: Error: Unable",
                result["output"],
            )

    def test_install_runs_exactly_the_order_then_each_alone_on_failure(self):
        os.environ["FAKE_DNF_CODES"] = json.dumps({"epo-1:0.9-1.x86_64": 1})
        with FakeServer() as server:
            server.order = {"packages": [FOO, EPO], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 1, "FAILED": 1}
            server.deliveries = [delivery("inst-1", Operation="Install")]
            self.node(server).run(once=True)
            argvs = [c["argv"] for c in self.dnf_calls()]
            prefix = self.prefix()
            self.assertEqual(
                argvs,
                [
                    prefix + dnfcmd.MAKECACHE,
                    prefix + dnfcmd.install_args(["foo-1.1-1.noarch", "epo-1:0.9-1.x86_64"]),
                    prefix + dnfcmd.install_args(["foo-1.1-1.noarch"]),
                    prefix + dnfcmd.install_args(["epo-1:0.9-1.x86_64"]),
                ],
            )
            self.assertEqual(argvs[1][-4:-2], ["--setopt=install_weak_deps=False", "install"])
            results = server.evaluations[1]["results"]
            self.assertEqual([r["returncode"] for r in results], [0, 1])
            wanted = "dnf install: Error: Unable to find a match: epo-1:0.9-1.x86_64"
            self.assertEqual(results[1]["error"], wanted)
            self.assertEqual(server.results["inst-1"]["status"], "Failed")

    def test_install_in_one_transaction_when_it_works(self):
        with FakeServer() as server:
            server.order = {"packages": [FOO, EPO], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 2}
            server.deliveries = [delivery("inst-2", Operation="Install", RebootOption="NoReboot")]
            self.node(server).run(once=True)
            self.assertEqual(len(self.dnf_calls()), 2)
            results = server.evaluations[1]["results"]
            self.assertEqual([r["returncode"] for r in results], [0, 0])
            self.assertEqual(server.results["inst-2"]["status"], "Success")

    def test_on_the_host_root_dnf_is_not_confined(self):
        from patchwarden.node.execute import Executor

        calls = []

        def runner(argv, env, timeout):
            calls.append((argv, env))
            return 0, "", ""

        executor = Executor.__new__(Executor)
        executor.root = "/"
        executor.runner = runner
        with executor.dnf_command() as (prefix, env):
            self.assertEqual(prefix, ["dnf"])
            self.assertEqual(env, {"LC_ALL": "C.UTF-8"})
        self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
