"""Facts of a root: which files, their hashes and relative paths, the hash cache."""

import os
import unittest

from nodetest_support import NodeTestCase, sha, write

from patchwarden.node import facts


class FactsTest(NodeTestCase):
    def test_the_files_apt_reads_with_their_hashes(self):
        found, paths = facts.collect(self.root, self.state_dir)
        by_path = {f.path: f for f in found.files}
        self.assertEqual(
            sorted(by_path),
            sorted(
                [
                    "var/lib/dpkg/status",
                    "var/lib/dpkg/arch",
                    "var/lib/apt/lists/deb.example.org_debian_dists_bookworm_InRelease",
                    "var/lib/apt/lists/deb.example.org_debian_dists_bookworm_main_binary-amd64_Packages",
                    "etc/apt/sources.list",
                    "etc/apt/apt.conf.d/70debconf",
                    "etc/apt/preferences.d/pin.pref",
                    "etc/os-release",
                    "etc/machine-id",
                    "etc/hostname",
                    "run/reboot-required",
                ]
            ),
        )
        for rel, item in by_path.items():
            with open(os.path.join(self.root, rel), "rb") as fh:
                data = fh.read()
            self.assertEqual(item.sha256, sha(data), rel)
            self.assertEqual(item.size, len(data), rel)
            with open(paths[item.sha256], "rb") as fh:
                self.assertEqual(fh.read(), data)
        self.assertEqual(found.manager, "apt")
        self.assertEqual(found.root, self.root)
        self.assertEqual(found.hostname, "sandbox-node")
        self.assertIsNone(found.boot_time)
        self.assertFalse(found.in_chroot)  # the fake ischroot exits 1
        self.assertEqual(found.arch, "amd64")
        self.assertTrue(found.collected_at.endswith("Z"))
        self.assertEqual(sorted(set(found.hashes())), found.hashes())

    def test_the_facts_pass_the_wire_check(self):
        from patchwarden import wire

        found, _ = facts.collect(self.root, self.state_dir)
        self.assertEqual(wire.RootFacts.from_json(found.to_json()), found)

    def test_in_chroot_when_ischroot_says_so_and_false_without_it(self):
        self.fake_program("ischroot", "#!/bin/sh\nexit 0\n")
        self.assertTrue(facts.collect(self.root)[0].in_chroot)
        os.unlink(os.path.join(self.bin, "ischroot"))
        os.environ["PATH"] = self.bin
        self.assertFalse(facts.in_chroot())

    def test_arch_from_dpkg_print_architecture_without_a_dpkg_entry(self):
        write(os.path.join(self.root, "var/lib/dpkg/status"), "Package: foo\nVersion: 1\n")
        self.fake_program("dpkg", "#!/bin/sh\necho arm64\n")
        self.assertEqual(facts.native_arch(self.root), "arm64")

    def test_the_root_itself_has_host_facts(self):
        self.assertIsInstance(facts.boot_time("/"), int)
        self.assertEqual(facts.hostname("/"), __import__("socket").gethostname())

    def test_hash_cache_is_reused_and_invalidated_on_change(self):
        big = os.path.join(self.root, "var/lib/apt/lists/big_Packages")
        with open(big, "wb") as fh:
            for _ in range(40):
                fh.write(os.urandom(1 << 20))
        first, _ = facts.collect(self.root, self.state_dir)
        self.assertTrue(os.path.exists(os.path.join(self.state_dir, facts.HASH_CACHE)))
        calls = []
        original = facts.sha256_file

        def counting(path):
            calls.append(path)
            return original(path)

        facts.sha256_file = counting
        self.addCleanup(setattr, facts, "sha256_file", original)
        second, _ = facts.collect(self.root, self.state_dir)
        self.assertEqual(calls, [])  # nothing hashed again (no wall-clock check: loaded CI)
        self.assertEqual([f.sha256 for f in first.files], [f.sha256 for f in second.files])
        # a change (same size, new mtime) is hashed again
        with open(big, "r+b") as fh:
            fh.write(b"changed!")
        st = os.stat(big)
        os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000))
        third, _ = facts.collect(self.root, self.state_dir)
        self.assertEqual(calls, [big])
        old = {f.path: f.sha256 for f in first.files}
        new = {f.path: f.sha256 for f in third.files}
        self.assertNotEqual(
            old["var/lib/apt/lists/big_Packages"], new["var/lib/apt/lists/big_Packages"]
        )
        with open(big, "rb") as fh:
            self.assertEqual(new["var/lib/apt/lists/big_Packages"], sha(fh.read()))

    def test_a_missing_root_is_an_environment_problem(self):
        from patchwarden.node.state import NodeProblem

        with self.assertRaises(NodeProblem) as caught:
            facts.collect(os.path.join(self.tmp, "nope"))
        self.assertEqual(caught.exception.exit_code, 3)


if __name__ == "__main__":
    unittest.main()
