"""RunPatchBaseline on the node: Scan and Install against the fake server and a fake
apt-get; the journal (never install twice) and the spool."""

import json
import os
import unittest

from nodetest_support import FakeServer, NodeTestCase, delivery

from patchwarden import aptcmd
from patchwarden.node import state
from patchwarden.node.execute import RESTARTED
from patchwarden.node.loop import Node

FOO = {"name": "foo", "arch": "amd64", "version": "1.1-1", "spec": "foo=1.1-1"}
BAR = {"name": "bar", "arch": "i386", "version": "2.0-1", "spec": "bar:i386=2.0-1"}


class ExecuteTest(NodeTestCase):
    def node(self, server, **kwargs):
        config = self.config(server)
        kwargs.setdefault("poll_wait", 0)
        return Node(config, sleep=lambda s: None, **kwargs)

    def test_scan_refreshes_uploads_and_reports_the_servers_report(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-1", Operation="Scan")]
            self.assertEqual(self.node(server).run(once=True), 0)
            result = server.results["scan-1"]
            self.assertEqual(result["status"], "Success")
            self.assertEqual(result["response_code"], 0)
            self.assertEqual(
                result["output"],
                "Scan: NON_COMPLIANT (baseline pb-debian-default): INSTALLED 1, MISSING 1",
            )
            self.assertEqual(result["report"]["operation"], "Scan")
            self.assertEqual([e["phase"] for e in server.evaluations], ["scan"])
            self.assertEqual(len(server.facts), 1)  # the inventory at start
            (update,) = self.apt_calls()
            self.assertEqual(update["argv"], aptcmd.UPDATE[1:])
            # a sandbox root: apt is confined with an APT_CONFIG file, 0600, removed afterwards
            self.assertEqual(update["config_text"], aptcmd.apt_config_text(self.root, "amd64"))
            self.assertEqual(update["config_mode"], "0o600")
            self.assertFalse(os.path.exists(update["apt_config"]))
            self.assertEqual(update["env"], aptcmd.ENV)
            # every blob the evaluation names is on the server
            files = server.evaluations[0]["facts"]["files"]
            self.assertTrue(all(f["sha256"] in server.blobs for f in files))

    def test_a_failing_update_is_a_warning(self):
        os.environ["FAKE_APT_CODES"] = json.dumps({"update": 100})
        with FakeServer() as server:
            server.deliveries = [delivery("scan-2", Operation="Scan")]
            self.node(server).run(once=True)
            result = server.results["scan-2"]
            self.assertEqual(result["status"], "Success")
            self.assertIn(
                "warning: the package lists were not refreshed: apt-get update: E:",
                result["output"],
            )

    def test_install_runs_exactly_the_order(self):
        with FakeServer() as server:
            server.order = {"packages": [FOO, BAR], "blocked": [], "lock_timeout": 120}
            server.conclude_summary = {"INSTALLED": 2}
            server.deliveries = [delivery("inst-1", Operation="Install", RebootOption="NoReboot")]
            self.node(server).run(once=True)
            calls = self.apt_calls()
            self.assertEqual(
                [c["argv"] for c in calls],
                [aptcmd.UPDATE[1:], aptcmd.install_argv(["foo=1.1-1", "bar:i386=2.0-1"], 120)[1:]],
            )
            self.assertTrue(all(c["apt_config"] for c in calls))
            self.assertEqual([e["phase"] for e in server.evaluations], ["plan", "conclude"])
            conclude = server.evaluations[1]
            self.assertEqual(conclude["order"], server.order)
            self.assertEqual(
                conclude["results"],
                [
                    {"name": "foo", "arch": "amd64", "returncode": 0, "error": ""},
                    {"name": "bar", "arch": "i386", "returncode": 0, "error": ""},
                ],
            )
            result = server.results["inst-1"]
            self.assertEqual((result["status"], result["response_code"]), ("Success", 0))
            self.assertTrue(result["output"].startswith("Install: COMPLIANT"))
            self.assertFalse(os.path.exists(os.path.join(self.state_dir, state.JOURNAL)))

    def test_a_failed_transaction_is_retried_package_by_package(self):
        os.environ["FAKE_APT_CODES"] = json.dumps({"bar:i386=2.0-1": 100})
        with FakeServer() as server:
            server.order = {"packages": [FOO, BAR], "blocked": [], "lock_timeout": 300}
            server.conclude_summary = {"INSTALLED": 1, "FAILED": 1}
            server.deliveries = [delivery("inst-2", Operation="Install")]
            self.node(server).run(once=True)
            argvs = [c["argv"] for c in self.apt_calls()]
            self.assertEqual(
                argvs[1:],
                [
                    aptcmd.install_argv(["foo=1.1-1", "bar:i386=2.0-1"], 300)[1:],
                    aptcmd.install_argv(["foo=1.1-1"], 300)[1:],
                    aptcmd.install_argv(["bar:i386=2.0-1"], 300)[1:],
                ],
            )
            results = server.evaluations[1]["results"]
            self.assertEqual(results[0]["returncode"], 0)
            self.assertEqual(results[1]["returncode"], 100)
            self.assertEqual(
                results[1]["error"],
                "apt-get: E: Unable to locate package for " + " ".join(argvs[3]),
            )
            result = server.results["inst-2"]
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 1))

    def test_nothing_to_install_does_not_run_apt_install(self):
        with FakeServer() as server:
            server.conclude_summary = {"INSTALLED": 3}
            server.deliveries = [delivery("inst-3", Operation="Install")]
            self.node(server).run(once=True)
            self.assertEqual([c["argv"] for c in self.apt_calls()], [aptcmd.UPDATE[1:]])
            self.assertEqual(server.evaluations[1]["results"], [])
            self.assertEqual(server.results["inst-3"]["status"], "Success")

    def test_an_interrupted_install_is_reported_failed_and_never_run_again(self):
        state.make_state_dir(self.state_dir)
        state.Journal(self.state_dir).start("inst-4", "cmd-1", "Install")
        with FakeServer() as server:
            server.order = {"packages": [FOO], "blocked": [], "lock_timeout": 300}
            server.deliveries = [delivery("inst-4", Operation="Install")]  # delivered again
            self.node(server).run(once=True)
            result = server.results["inst-4"]
            self.assertEqual(result, {"status": "Failed", "response_code": 1, "output": RESTARTED})
            self.assertEqual(self.apt_calls(), [])
            self.assertFalse(os.path.exists(os.path.join(self.state_dir, state.JOURNAL)))

    def test_results_wait_in_the_spool_while_the_server_is_away(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-5", Operation="Scan")]
            node = self.node(server)
            real_report = node.api.report

            def down(invocation_id, result):
                from patchwarden.node.client import Unavailable

                raise Unavailable("the server is down")

            node.api.report = down
            self.assertEqual(node.run(once=True), 0)
            spooled = state.Spool(self.state_dir).entries()
            self.assertEqual([i for i, _ in spooled], ["scan-5"])
            self.assertNotIn("scan-5", server.results)
            node.api.report = real_report
            self.assertEqual(self.node(server).run(once=True), 0)
            self.assertEqual(server.results["scan-5"]["status"], "Success")
            self.assertEqual(state.Spool(self.state_dir).entries(), [])
            self.assertFalse(os.path.exists(os.path.join(self.state_dir, state.SPOOL)))

    def test_a_refusal_and_an_unknown_document_fail_the_invocation(self):
        with FakeServer() as server:
            server.deliveries = [
                delivery("doc-1", document="AWS-RunShellScript", commands=["id"]),
            ]
            self.node(server).run(once=True)
            self.assertEqual(
                server.results["doc-1"],
                {
                    "status": "Failed",
                    "response_code": 2,
                    "output": "document AWS-RunShellScript is not supported by the node component",
                },
            )

    def test_apt_get_missing_is_an_environment_failure(self):
        os.unlink(os.path.join(self.bin, "apt-get"))
        os.environ["PATH"] = self.bin
        with FakeServer() as server:
            server.order = {"packages": [FOO], "blocked": [], "lock_timeout": 300}
            server.deliveries = [delivery("inst-6", Operation="Install")]
            self.node(server).run(once=True)
            result = server.results["inst-6"]
            self.assertEqual((result["status"], result["response_code"]), ("Failed", 3))
            self.assertIn("cannot run apt-get", result["output"])
            self.assertEqual(len(result["output"].splitlines()), 1)

    def test_a_redelivered_invocation_is_not_run_twice(self):
        with FakeServer() as server:
            server.deliveries = [delivery("scan-7", Operation="Scan")]
            node = self.node(server)
            node.run(once=True)
            server.deliveries = [delivery("scan-7", Operation="Scan")]
            node.run(once=True)
            self.assertEqual(len(server.evaluations), 1)

    def test_once_with_the_server_away_exits_3(self):
        with FakeServer() as server:
            server.force_status = 503
            self.assertEqual(self.node(server).run(once=True), 3)


if __name__ == "__main__":
    unittest.main()
