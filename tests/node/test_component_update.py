"""AWS-UpdateSSMAgent: download, verify, check, swap the current.pyz symlink (no exec)."""

import os
import sys
import unittest

from nodetest_support import FakeServer, NodeTestCase, delivery, sha, write

from patchwarden.node.loop import Node
from patchwarden.node.update import version_key


def bundle_body(version):
    text = 'import sys\nif sys.argv[1:] == ["version"]:\n    print("patchwarden-node {}")\n'
    return text.format(version).encode()


class UpdateTest(NodeTestCase):
    def setUp(self):
        super().setUp()
        self.opt = os.path.join(self.tmp, "prefix/opt/patchwarden-node")
        self.old = os.path.join(self.opt, "bundles", "patchwarden-node-1.0.0.pyz")
        write(self.old, bundle_body("1.0.0").decode())
        self.current = os.path.join(self.opt, "current.pyz")
        os.symlink("bundles/patchwarden-node-1.0.0.pyz", self.current)
        self.execs = []

    def run_update(self, server, argv0=None, **parameters):
        server.deliveries = [delivery("up-1", document="AWS-UpdateSSMAgent", **parameters)]
        node = Node(
            self.config(server),
            poll_wait=0,
            argv=[argv0 or self.current, "run", "--state-dir", self.state_dir],
            executable=sys.executable,
            execv=lambda path, args: self.execs.append((path, args)),
        )
        node.executor.updater.current_version = "1.0.0"
        node.run(once=True)
        return server.results["up-1"]

    def serve(self, server, *versions, **corrupt):
        for v in versions:
            body = bundle_body(v)
            server.bundle_bodies[v] = b"tampered" + body if v in corrupt.get("bad", ()) else body
            server.bundles.append({"version": v, "sha256": sha(body), "size": len(body)})

    def test_upgrade_downloads_verifies_swaps_and_re_executes(self):
        with FakeServer() as server:
            self.serve(server, "1.0.0", "1.2.0", "1.10.0")
            result = self.run_update(server)  # default: the newest (1.10.0, not 1.2.0)
            self.assertEqual(
                result,
                {"status": "Success", "response_code": 0, "output": "updated 1.0.0 -> 1.10.0"},
            )
            self.assertEqual(os.readlink(self.current), "bundles/patchwarden-node-1.10.0.pyz")
            with open(os.path.realpath(self.current), "rb") as fh:
                self.assertEqual(fh.read(), bundle_body("1.10.0"))
            self.assertTrue(os.path.exists(self.old))  # kept for a rollback
            self.assertFalse(os.path.lexists(self.current + ".new"))
            self.assertEqual(
                self.execs,
                [
                    (
                        sys.executable,
                        [sys.executable, self.current, "run", "--state-dir", self.state_dir],
                    )
                ],
            )

    def test_a_downgrade_needs_allow_downgrade(self):
        with FakeServer() as server:
            self.serve(server, "0.9.0")
            result = self.run_update(server, version="0.9.0")
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 2))
            self.assertIn("allowDowngrade", result["output"])
            self.assertEqual(os.readlink(self.current), "bundles/patchwarden-node-1.0.0.pyz")
            self.assertEqual(self.execs, [])

    def test_a_rollback_with_allow_downgrade(self):
        with FakeServer() as server:
            self.serve(server, "0.9.0")
            result = self.run_update(server, version="0.9.0", allowDowngrade="true")
            self.assertEqual(result["output"], "updated 1.0.0 -> 0.9.0")
            self.assertEqual(os.readlink(self.current), "bundles/patchwarden-node-0.9.0.pyz")
            self.assertEqual(len(self.execs), 1)

    def test_the_same_version_is_nothing_to_do(self):
        with FakeServer() as server:
            self.serve(server, "1.0.0")
            result = self.run_update(server, version="1.0.0")
            self.assertEqual(
                result, {"status": "Success", "response_code": 0, "output": "already at 1.0.0"}
            )
            self.assertEqual(self.execs, [])

    def test_a_bundle_with_the_wrong_hash_is_not_installed(self):
        with FakeServer() as server:
            self.serve(server, "2.0.0", bad=("2.0.0",))
            result = self.run_update(server, version="2.0.0")
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 3))
            self.assertIn("SHA-256", result["output"])
            self.assertEqual(os.readlink(self.current), "bundles/patchwarden-node-1.0.0.pyz")
            self.assertFalse(
                os.path.exists(os.path.join(self.opt, "bundles", "patchwarden-node-2.0.0.pyz"))
            )
            self.assertEqual(self.execs, [])

    def test_a_bundle_that_does_not_say_its_version_is_not_installed(self):
        with FakeServer() as server:
            body = bundle_body("2.0.1")  # says another version
            server.bundle_bodies["2.0.0"] = body
            server.bundles.append({"version": "2.0.0", "sha256": sha(body), "size": len(body)})
            result = self.run_update(server, version="2.0.0")
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 3))
            self.assertIn("does not run", result["output"])
            self.assertEqual(os.readlink(self.current), "bundles/patchwarden-node-1.0.0.pyz")

    def test_a_node_not_installed_by_install_sh(self):
        with FakeServer() as server:
            self.serve(server, "2.0.0")
            result = self.run_update(server, argv0=self.old, version="2.0.0")
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 3))
            self.assertTrue(
                result["output"].startswith("this node was not installed by install.sh: ")
            )

    def test_version_order(self):
        ordered = ["0.9", "0.9.1", "0.10.0", "1.0.0rc1", "1.0.0", "1.0.0.post1", "1.0.1"]
        self.assertEqual(sorted(reversed(ordered), key=version_key), ordered)


if __name__ == "__main__":
    unittest.main()
