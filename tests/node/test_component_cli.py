"""The command line: register (node.json 0600), version, one-line errors and exit codes."""

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import unittest

from nodetest_support import SRC, FakeServer, NodeTestCase, free_port

from patchwarden import __version__


class CliTest(NodeTestCase):
    def cli(self, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = SRC
        proc = subprocess.Popen(
            [sys.executable, "-m", "patchwarden.node", *list(args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            env=env,
        )
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err

    def register(self, server_url, *extra):
        return self.cli(
            "register",
            "--server",
            server_url,
            "--activation-id",
            "act-1",
            "--activation-code",
            "code-1",
            "--root",
            self.root,
            "--state-dir",
            self.state_dir,
            *extra,
        )

    def test_version(self):
        self.assertEqual(self.cli("version"), (0, f"patchwarden-node {__version__}\n", ""))

    def test_register_writes_node_json_0600(self):
        with FakeServer() as server:
            code, out, err = self.register(server.url, "--tag", "Role=web", "--name", "n1")
            self.assertEqual(code, 0, err)
            self.assertEqual(out.split()[2], "n-1")
            self.assertEqual(out, f"registered node n-1 with {server.url}\n")
            path = os.path.join(self.state_dir, "node.json")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as fh:
                saved = json.load(fh)
            self.assertEqual(
                saved,
                {
                    "server": server.url,
                    "node_id": "n-1",
                    "credential": server.credential,
                    "root": os.path.realpath(self.root),
                    "ca_file": "",
                },
            )
            (method, rpath, _headers, body) = server.requests[0]
            sent = json.loads(body.decode())
            self.assertEqual((method, rpath), ("POST", "/api/v1/register"))
            self.assertEqual(sent["tags"], {"Role": "web"})
            self.assertEqual(sent["name"], "n1")
            self.assertEqual(
                sent["facts"],
                {
                    "hostname": "sandbox-node",
                    "os_id": "debian",
                    "os_version": "12",
                    "operating_system": "DEBIAN",
                    "product": "Debian12",
                    "agent_version": __version__,
                },
            )
            self.assertNotIn(server.credential, err)
            # a second registration is refused
            code, out, err = self.register(server.url)
            self.assertEqual(code, 2)
            self.assertEqual(len(err.splitlines()), 1)

    def test_a_refused_registration_is_exit_2_in_one_line(self):
        with FakeServer() as server:
            server.register_answer = (
                403,
                {"error": {"code": "forbidden", "message": "the activation has expired"}},
            )
            code, out, err = self.register(server.url)
            self.assertEqual(code, 2)
            self.assertEqual(out, "")
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn("the activation has expired", err)
            self.assertFalse(os.path.exists(os.path.join(self.state_dir, "node.json")))

    def test_an_unreachable_server_is_exit_3_in_one_line(self):
        code, _, err = self.register(f"http://127.0.0.1:{free_port()}")
        self.assertEqual(code, 3)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("cannot reach", err)
        with FakeServer() as server:
            server.force_status = 502
            code, _out, err = self.register(server.url)
            self.assertEqual(code, 3)
            self.assertEqual(len(err.splitlines()), 1, err)

    def test_run_without_registration_is_exit_3(self):
        code, _out, err = self.cli("run", "--once", "--state-dir", self.state_dir)
        self.assertEqual(code, 3)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_run_once_logs_with_timestamps_and_never_the_credential(self):
        with FakeServer() as server:
            self.config(server)
            server.deliveries = [
                {
                    "invocation_id": "scan-9",
                    "command_id": "cmd-9",
                    "document_name": "AWS-RunPatchBaseline",
                    "parameters": {"Operation": "Scan"},
                }
            ]
            code, _out, err = self.cli(
                "run", "--once", "--poll-wait", "0", "--state-dir", self.state_dir
            )
            self.assertEqual(code, 0, err)
            self.assertEqual(server.results["scan-9"]["status"], "Success")
            ended = [ln for ln in err.splitlines() if "invocation scan-9" in ln]
            self.assertEqual(len(ended), 1, err)
            self.assertRegex(ended[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
            self.assertIn("Scan Success", ended[0])
            self.assertNotIn(server.credential, err)

    def test_sigterm_stops_the_loop_cleanly(self):
        with FakeServer() as server:
            self.config(server)
            env = dict(os.environ)
            env["PYTHONPATH"] = SRC
            argv = [sys.executable, "-m", "patchwarden.node", "run", "--poll-wait", "0"]
            proc = subprocess.Popen(
                [*argv, "--state-dir", self.state_dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
                env=env,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(server.paths("GET")) < 3:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, err)
            self.assertIn("stopping (SIGTERM)", err)
            self.assertNotIn("Traceback", err)

    def test_main_in_process(self):
        from patchwarden.node import main

        saved = sys.stdout
        sys.stdout = io.StringIO()
        try:
            self.assertEqual(main.main(["version"]), 0)
            self.assertIn(__version__, sys.stdout.getvalue())
        finally:
            sys.stdout = saved


if __name__ == "__main__":
    unittest.main()
