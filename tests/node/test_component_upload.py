"""The HTTP client against a real HTTP server, and content-addressed uploads."""

import gzip
import os
import unittest

from nodetest_support import FakeServer, NodeTestCase, free_port, sha

from patchwarden import wire
from patchwarden.node.client import Api, Refused, Unavailable
from patchwarden.node.upload import Uploader


class ClientTest(NodeTestCase):
    def test_bearer_json_and_typed_answers(self):
        with FakeServer() as server:
            server.deliveries = [
                {
                    "invocation_id": "i1",
                    "command_id": "c1",
                    "document_name": "AWS-RunPatchBaseline",
                    "parameters": {"Operation": "Scan"},
                }
            ]
            api = Api(server.url, server.credential)
            found = api.poll(0)
            self.assertEqual([d.invocation_id for d in found], ["i1"])
            method, path, headers, _ = server.requests[-1]
            self.assertEqual((method, path), ("GET", "/api/v1/agent/commands?wait=0"))
            self.assertEqual(headers["Authorization"], "Bearer " + server.credential)
            ack = api.report("i1", wire.InvocationResult("Success", 0, "fine"))
            self.assertTrue(ack.accepted)
            _, _, headers, _body = server.requests[-1]
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(server.results["i1"]["output"], "fine")

    def test_4xx_is_refused_with_the_servers_code_and_message(self):
        with FakeServer() as server:
            api = Api(server.url, "wrong.credential")
            with self.assertRaises(Refused) as caught:
                api.poll(0)
            self.assertEqual(caught.exception.status, 401)
            self.assertEqual(caught.exception.code, "unauthenticated")
            self.assertIn("bad credential", str(caught.exception))
            self.assertNotIn("wrong.credential", str(caught.exception))

    def test_5xx_and_no_server_are_unavailable(self):
        with FakeServer() as server:
            server.force_status = 503
            with self.assertRaises(Unavailable):
                Api(server.url, server.credential).poll(0)
        with self.assertRaises(Unavailable) as caught:
            Api(f"http://127.0.0.1:{free_port()}", "x", timeout=5).poll(0)
        self.assertIn("cannot reach", str(caught.exception))

    def test_an_unreadable_ca_file_is_unavailable(self):
        with self.assertRaises(Unavailable):
            Api("https://127.0.0.1:1", "x", ca_file=os.path.join(self.tmp, "none.pem"))


class UploadTest(NodeTestCase):
    def test_only_missing_blobs_go_up_gzipped(self):
        with FakeServer() as server:
            status = os.path.join(self.root, "var/lib/dpkg/status")
            with open(status, "rb") as fh:
                known = fh.read()
            server.blobs[sha(known)] = known
            uploader = Uploader(Api(server.url, server.credential), self.root, self.state_dir)
            facts = uploader.facts()
            wanted = set(facts.hashes())
            self.assertEqual(set(server.blobs), wanted)
            puts = [(p, h, b) for m, p, h, b in server.requests if m == "PUT"]
            self.assertEqual(len(puts), len(wanted) - 1)  # the status was there already
            for path, headers, body in puts:
                self.assertEqual(headers["Content-Type"], "application/gzip")
                self.assertEqual(int(headers["Content-Length"]), len(body))
                self.assertEqual(sha(gzip.decompress(body)), path.rsplit("/", 1)[1])
            self.assertNotIn("/api/v1/agent/blobs/" + sha(known), [p for p, _, _ in puts])
            # a second round sends nothing
            before = len(server.paths("PUT"))
            uploader.facts()
            self.assertEqual(len(server.paths("PUT")), before)

    def test_409_missing_blobs_uploads_again_and_retries_once(self):
        with FakeServer() as server:
            api = Api(server.url, server.credential)
            uploader = Uploader(api, self.root, self.state_dir)
            facts = uploader.facts()
            server.lose_blobs_once = True
            ack = uploader.with_blobs(facts, api.upload_facts)
            self.assertEqual(ack.installed_count, 2)
            self.assertEqual(len(server.facts), 1)
            self.assertEqual(set(server.blobs), set(facts.hashes()))

    def test_other_refusals_are_not_retried(self):
        with FakeServer() as server:
            api = Api(server.url, server.credential)
            uploader = Uploader(api, self.root, self.state_dir)
            facts = uploader.facts()
            calls = []

            def send(f):
                calls.append(f)
                raise Refused(409, "conflict", "no")

            with self.assertRaises(Refused):
                uploader.with_blobs(facts, send)
            self.assertEqual(len(calls), 1)

    def test_a_file_changed_since_hashing_is_collected_again(self):
        with FakeServer() as server:
            api = Api(server.url, server.credential)
            uploader = Uploader(api, self.root, self.state_dir)
            real_collect = uploader.collect
            target = os.path.join(self.root, "etc/machine-id")
            rounds = []

            def collect():
                found = real_collect()
                if not rounds:  # the file changes between hashing and upload
                    with open(target, "w") as fh:
                        fh.write("changed\n")
                rounds.append(found)
                return found

            uploader.collect = collect
            facts = uploader.facts()
            self.assertEqual(len(rounds), 2)
            by_path = {f.path: f.sha256 for f in facts.files}
            self.assertEqual(by_path["etc/machine-id"], sha(b"changed\n"))
            self.assertIn(sha(b"changed\n"), server.blobs)


if __name__ == "__main__":
    unittest.main()
