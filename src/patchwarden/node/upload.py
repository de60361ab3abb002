"""Content-addressed uploads: the server is asked which blobs it lacks, and only those are
sent, each gzip-compressed and streamed from disk.

A fact set naming a blob the server lost is answered 409 ``missing_blobs``:
:meth:`Uploader.with_blobs` uploads again and retries once.
"""

import gzip
import hashlib
import logging
import os
import tempfile
from typing import IO, Callable, Dict, Optional, Tuple, TypeVar

from patchwarden import wire
from patchwarden.node import facts as facts_mod
from patchwarden.node.client import Api, Refused
from patchwarden.node.state import NodeProblem

log = logging.getLogger("patchwarden.node")
T = TypeVar("T")
ATTEMPTS = 3
"""Collections tried when files keep changing while they are uploaded."""


class Changed(Exception):
    """A file's content no longer matches the hash it was collected with."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Uploader:
    """Collects one root's facts and makes sure the server holds every blob they name."""

    def __init__(self, api: Api, root: str, state_dir: Optional[str]) -> None:
        self.api = api
        self.root = root
        self.state_dir = state_dir
        self.uploaded = 0
        """Blobs sent by this uploader (for logs and tests)."""

    def collect(self) -> Tuple[wire.RootFacts, Dict[str, str]]:
        """The root's facts now."""
        return facts_mod.collect(self.root, self.state_dir)

    def facts(self) -> wire.RootFacts:
        """Collect the facts and upload what the server lacks; the facts as uploaded."""
        for _ in range(ATTEMPTS):
            facts, paths = self.collect()
            try:
                self.send_missing(facts, paths)
            except Changed as exc:
                log.info("%s changed while it was uploaded; collecting again", exc.path)
                facts_mod.forget(self.state_dir, exc.path)
                continue
            return facts
        raise NodeProblem("the files of {} keep changing; try again later".format(self.root))

    def send_missing(self, facts: wire.RootFacts, paths: Dict[str, str]) -> int:
        """PUT each blob the server lacks; how many were sent."""
        hashes = facts.hashes()
        if not hashes:
            return 0
        missing = self.api.missing_blobs(hashes)
        for digest in missing:
            path = paths.get(digest)
            if path is None:
                continue  # not one of ours: the server's answer is odd, not our problem
            self._put(digest, path)
            self.uploaded += 1
        return len(missing)

    def _put(self, digest: str, path: str) -> None:
        tmp_dir = self.state_dir if self.state_dir and os.path.isdir(self.state_dir) else None
        with tempfile.TemporaryFile(dir=tmp_dir) as tmp:
            try:
                found = gzip_into(path, tmp)
            except OSError:
                raise Changed(path) from None
            if found != digest:
                raise Changed(path)
            size = tmp.tell()
            tmp.seek(0)
            self.api.put_blob(digest, tmp, size)

    def with_blobs(self, facts: wire.RootFacts, send: Callable[[wire.RootFacts], T]) -> T:
        """``send(facts)``; when the server answers 409 ``missing_blobs`` (it lost one),
        upload again and retry once (with facts collected again)."""
        try:
            return send(facts)
        except Refused as exc:
            if exc.status != 409 or exc.code != "missing_blobs":
                raise
            log.warning("the server lacks blobs of the facts; uploading again")
        return send(self.facts())


def gzip_into(path: str, out: "IO[bytes]") -> str:
    """Compress the file at ``path`` into ``out`` (streamed); its SHA-256 as read."""
    check = hashlib.sha256()
    gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)
    with open(path, "rb") as src, gz:
        while True:
            chunk = src.read(facts_mod.CHUNK)
            if not chunk:
                return check.hexdigest()
            check.update(chunk)
            gz.write(chunk)
