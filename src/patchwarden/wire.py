"""The agent↔server protocol: every JSON body of ``/api/v1/register`` and ``/api/v1/agent``.

One definition per body, shared by both ends: the agent builds its requests and reads the
server's answers with these records; the server validates requests with its pydantic models
(``server/schemas.py``, which also document them in OpenAPI) — a test keeps the two in
step, field for field.

Written for Python 3.6 and the standard library only (no dataclasses, no postponed
annotations, no pydantic): a node component on a distribution's own old Python can use this
file unchanged.  Each record is a ``NamedTuple`` with ``to_json()`` and a strict
``from_json()`` that raises :class:`WireError` ("``path.field: problem``"); fields a newer
peer adds are ignored, so both ends can be upgraded one at a time.
"""

import hashlib
import json
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional

PROTOCOL_VERSION = 1
"""Bumped only when a field changes meaning or goes away (fields are only ever added)."""


class WireError(ValueError):
    """A body does not have the protocol's shape; the message names the field."""


_MISSING = object()


class Fields:
    """Typed, path-aware reads of one JSON object (``Fields(raw, "delivery")``)."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, dict):
            raise WireError("{}: must be an object, got {}".format(path, _kind(raw)))
        self.raw = raw  # type: Dict[str, Any]
        self.path = path

    def _get(self, key: str, default: Any) -> Any:
        if key in self.raw and self.raw[key] is not None:
            return self.raw[key]
        if default is _MISSING:
            raise WireError("{}.{}: required field is missing".format(self.path, key))
        return default

    def _bad(self, key: str, expected: str, value: Any) -> WireError:
        return WireError("{}.{}: must be {}, got {}".format(self.path, key, expected, _kind(value)))

    def text(self, key: str, default: Any = _MISSING, max_length: int = 1_000_000) -> str:
        """A string field (``default`` when absent or null)."""
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string", value)
        if len(value) > max_length:
            raise WireError(
                "{}.{}: must be at most {} characters".format(self.path, key, max_length)
            )
        return value

    def optional_text(self, key: str) -> Optional[str]:
        """A string field that may be absent or null."""
        return None if self.raw.get(key) is None else self.text(key)

    def integer(self, key: str, default: Any = _MISSING) -> int:
        """An integer field (booleans are not integers here)."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "an integer", value)
        return value

    def optional_integer(self, key: str) -> Optional[int]:
        """An integer field that may be absent or null."""
        return None if self.raw.get(key) is None else self.integer(key)

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        """A boolean field."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false", value)
        return value

    def mapping(self, key: str, default: Any = _MISSING) -> Dict[str, Any]:
        """An object field, as a dict."""
        value = self._get(key, default)
        if not isinstance(value, dict):
            raise self._bad(key, "an object", value)
        return value

    def optional_mapping(self, key: str) -> Optional[Dict[str, Any]]:
        """An object field that may be absent or null."""
        return None if self.raw.get(key) is None else self.mapping(key)

    def nested(self, key: str) -> "Fields":
        """A nested object, read with its own path."""
        return Fields(self.mapping(key), "{}.{}".format(self.path, key))

    def array(self, key: str, default: Any = _MISSING) -> List[Any]:
        """A list field."""
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self._bad(key, "a list", value)
        return value

    def objects(self, key: str, default: Any = _MISSING) -> List["Fields"]:
        """A list of objects, each read with its own path (``items[3]``)."""
        return [
            Fields(item, "{}.{}[{}]".format(self.path, key, i))
            for i, item in enumerate(self.array(key, default))
        ]

    def texts(self, key: str, default: Any = _MISSING) -> List[str]:
        """A list of strings."""
        found = self.array(key, default)
        for i, item in enumerate(found):
            if not isinstance(item, str):
                raise WireError(
                    "{}.{}[{}]: must be a string, got {}".format(self.path, key, i, _kind(item))
                )
        return found

    def text_map(self, key: str, default: Any = _MISSING) -> Dict[str, str]:
        """An object whose values are strings (tags)."""
        found = self.mapping(key, default)
        for name, value in found.items():
            if not isinstance(value, str):
                raise WireError(
                    "{}.{}.{}: must be a string, got {}".format(self.path, key, name, _kind(value))
                )
        return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}.get(
        type(value), "object" if isinstance(value, dict) else type(value).__name__
    )


def _drop_none(values: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# -- registration -----------------------------------------------------------------------


class NodeFacts(NamedTuple):
    """What an agent says about its node (registration and full inventory uploads)."""

    hostname: str = ""
    os_id: str = ""
    os_version: str = ""
    operating_system: str = ""
    product: str = ""
    agent_version: str = ""
    capabilities: str = ""
    """What the agent can do besides patching, comma-separated (``image-builder``)."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object (without ``capabilities`` when there are none: a server older
        than them refuses the field)."""
        body = dict(self._asdict())
        if not body["capabilities"]:
            del body["capabilities"]
        return body

    @classmethod
    def from_json(cls, raw: Any, path: str = "facts") -> "NodeFacts":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(*(f.text(name, "") for name in cls._fields))


class Registration(NamedTuple):
    """``POST /api/v1/register``."""

    activation_id: str
    activation_code: str
    facts: NodeFacts
    tags: Dict[str, str]
    """Tags of the new node (added to the activation's default tags)."""
    name: str = ""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return {
            "activation_id": self.activation_id,
            "activation_code": self.activation_code,
            "name": self.name,
            "tags": dict(self.tags),
            "facts": self.facts.to_json(),
        }

    @classmethod
    def from_json(cls, raw: Any, path: str = "registration") -> "Registration":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(
            activation_id=f.text("activation_id"),
            activation_code=f.text("activation_code"),
            facts=NodeFacts.from_json(f.mapping("facts", {}), path + ".facts"),
            tags=f.text_map("tags", {}),
            name=f.text("name", ""),
        )


class Credential(NamedTuple):
    """The answer to a registration or a credential rotation."""

    node_id: str
    credential: str
    """``<node id>.<secret>``: the bearer credential of every later request."""
    tags: Optional[Dict[str, str]] = None
    """The node's tags after registration (absent from a rotation's answer)."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return _drop_none(dict(self._asdict()))

    @classmethod
    def from_json(cls, raw: Any, path: str = "answer") -> "Credential":
        """Read and check one object."""
        f = Fields(raw, path)
        tags = f.text_map("tags") if f.raw.get("tags") is not None else None
        return cls(f.text("node_id"), f.text("credential"), tags)


# -- commands ---------------------------------------------------------------------------


class Delivery(NamedTuple):
    """One invocation handed to a node by ``GET /api/v1/agent/commands``."""

    invocation_id: str
    command_id: str
    document_name: str
    parameters: Dict[str, Any]
    """RunPatchBaseline parameters (``Operation``, ``RebootOption``, ``SnapshotId``,
    ``InstallOverrideList``), AWS spelling."""
    baseline: Optional[Dict[str, Any]] = None
    """The ``PatchBaseline`` document the server resolved; ``None``: the OS default."""
    baseline_source: str = ""
    execution_timeout_seconds: Optional[int] = None

    @property
    def operation(self) -> str:
        """``Scan`` or ``Install``."""
        value = self.parameters.get("Operation", "Scan")
        return value if isinstance(value, str) else "Scan"

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, raw: Any, path: str = "invocation") -> "Delivery":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(
            invocation_id=f.text("invocation_id", max_length=64),
            command_id=f.text("command_id", max_length=64),
            document_name=f.text("document_name", max_length=256),
            parameters=f.mapping("parameters", {}),
            baseline=f.optional_mapping("baseline"),
            baseline_source=f.text("baseline_source", ""),
            execution_timeout_seconds=f.optional_integer("execution_timeout_seconds"),
        )


def deliveries(raw: Any) -> List[Delivery]:
    """The ``{"invocations": [...]}`` answer of a poll."""
    f = Fields(raw, "poll")
    return [Delivery.from_json(item.raw, item.path) for item in f.objects("invocations")]


RESULT_STATUSES = ("Success", "Failed", "TimedOut")


class InvocationResult(NamedTuple):
    """``POST /api/v1/agent/invocations/{id}``: how an invocation ended."""

    status: str
    """``Success``, ``Failed`` or ``TimedOut``."""
    response_code: Optional[int] = None
    output: str = ""
    report: Optional[Dict[str, Any]] = None
    """The compliance report (``scan --format json``'s object) when the run produced one."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return _drop_none(dict(self._asdict()))

    @classmethod
    def from_json(cls, raw: Any, path: str = "result") -> "InvocationResult":
        """Read and check one object."""
        f = Fields(raw, path)
        status = f.text("status")
        if status not in RESULT_STATUSES:
            raise WireError(
                "{}.status: must be one of {}, got {!r}".format(
                    path, ", ".join(RESULT_STATUSES), status
                )
            )
        return cls(
            status,
            f.optional_integer("response_code"),
            f.text("output", ""),
            f.optional_mapping("report"),
        )


class ResultAck(NamedTuple):
    """The server's answer to a result."""

    accepted: bool
    """False when the invocation had ended already (the first final status stays)."""
    status: str
    command_status: str

    @classmethod
    def from_json(cls, raw: Any, path: str = "answer") -> "ResultAck":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(f.flag("accepted"), f.text("status"), f.text("command_status"))


# -- inventory --------------------------------------------------------------------------

BASE_ITEM_FIELDS = (
    "kind",
    "name",
    "arch",
    "version",
    "source_name",
    "repository",
    "classification",
)
NOTICE_FIELDS = ("severity", "advisories", "cves")
"""What an rpm update notice (updateinfo) says of an update: its vendor severity and the
space-separated notice and CVE ids (empty on apt, and on installed packages)."""
ITEM_FIELDS = BASE_ITEM_FIELDS + NOTICE_FIELDS
"""The fields of an inventory item (all strings); their order defines the item hash."""


def item_hash(item: Mapping[str, str]) -> str:
    """32 hex characters identifying one item's content (absent fields count as "").

    The notice fields count only when one is set, so an item without them hashes as it
    did before they existed (an older agent's inventory stays valid)."""
    fields = ITEM_FIELDS if any(item.get(f) for f in NOTICE_FIELDS) else BASE_ITEM_FIELDS
    canonical = json.dumps([item.get(f, "") for f in fields], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def content_hash(item_hashes: Iterable[str]) -> str:
    """An inventory's hash from its items' hashes (order does not matter): the SHA-256 of
    the sorted item hashes, so a delta ("these went away, these arrived") can be checked
    by both ends."""
    digest = hashlib.sha256()
    for h in sorted(item_hashes):
        digest.update(h.encode())
    return digest.hexdigest()


class InventoryItem(NamedTuple):
    """One installed package (``kind: installed``) or one available update (``update``)."""

    kind: str
    name: str
    arch: str = ""
    version: str = ""
    source_name: str = ""
    repository: str = ""
    classification: str = ""
    severity: str = ""
    advisories: str = ""
    """Space-separated ids of the update notices that cover this update (rpm)."""
    cves: str = ""
    """Space-separated CVE ids those notices reference."""

    def to_json(self) -> Dict[str, str]:
        """The JSON object (the notice fields only when set)."""
        raw = dict(self._asdict())
        for name in NOTICE_FIELDS:
            if not raw[name]:
                del raw[name]
        return raw

    @classmethod
    def from_json(cls, raw: Any, path: str = "item") -> "InventoryItem":
        """Read and check one object."""
        f = Fields(raw, path)
        kind = f.text("kind")
        if kind not in ("installed", "update"):
            raise WireError("{}.kind: must be installed or update, got {!r}".format(path, kind))
        return cls(kind, *(f.text(name, "") for name in ITEM_FIELDS[1:]))


class FullInventory(NamedTuple):
    """``PUT /api/v1/agent/inventory``: everything, replacing what the server holds."""

    content_hash: str
    items: List[InventoryItem]
    facts: Optional[NodeFacts] = None
    collected_at: Optional[str] = None
    """ISO 8601 time of collection (UTC)."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return {
            "facts": self.facts.to_json() if self.facts is not None else None,
            "items": [i.to_json() for i in self.items],
            "content_hash": self.content_hash,
            "collected_at": self.collected_at,
        }


class InventoryDelta(NamedTuple):
    """``PATCH /api/v1/agent/inventory``: the changes since ``base_hash`` (409 when the
    server holds another inventory: then send it in full)."""

    base_hash: str
    content_hash: str
    added: List[InventoryItem]
    removed: List[str]
    """Item hashes that went away."""
    collected_at: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return {
            "base_hash": self.base_hash,
            "content_hash": self.content_hash,
            "added": [i.to_json() for i in self.added],
            "removed": list(self.removed),
            "collected_at": self.collected_at,
        }


class InventoryAck(NamedTuple):
    """The server's answer to an inventory upload."""

    content_hash: str
    installed_count: int
    update_count: int

    @classmethod
    def from_json(cls, raw: Any, path: str = "answer") -> "InventoryAck":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(f.text("content_hash"), f.integer("installed_count"), f.integer("update_count"))


# -- the node component: facts of a root, evaluation on the server -----------------------
#
# A node on an old Python runs ``patchwarden.node`` (stdlib only).  It does what must happen
# on the node and nothing else: it refreshes and reads its package manager's files, uploads
# them content-addressed, runs the exact installs the server orders, and reports.  The
# server rebuilds the root from its blob store and evaluates it with the same pipeline as
# ``patchwarden scan`` / ``install``:
#
#   POST /api/v1/agent/blobs/missing      BlobQuery      -> BlobQuery (the ones it lacks)
#   PUT  /api/v1/agent/blobs/{sha256}     gzip body of one file (checked against the hash)
#   POST /api/v1/agent/facts              RootFacts      -> InventoryAck (periodic inventory)
#   POST /api/v1/agent/invocations/{id}/evaluate  EvaluateRequest -> Evaluation
#
# A fact set naming a blob the server lacks is answered 409 ``missing_blobs``.

MANAGERS = ("apt", "dnf", "apk", "zypper")
"""Package managers the node component collects facts for."""

EVALUATE_PHASES = ("scan", "plan", "conclude")
"""``scan``: judge the facts (Scan; the answer has the report).  ``plan``: decide an
Install (the answer has the order to carry out).  ``conclude``: judge the facts after the
node carried out the order (the answer has the Install report and whether to reboot)."""

_HEX = frozenset("0123456789abcdef")


def is_sha256(text: Any) -> bool:
    """64 lower-case hex characters."""
    return isinstance(text, str) and len(text) == 64 and set(text) <= _HEX


def safe_relative_path(path: str) -> bool:
    """A ``/``-separated path inside a root: relative, no ``..``/``.`` parts, no NUL."""
    if not path or path.startswith("/") or "\x00" in path or "\\" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


class FactFile(NamedTuple):
    """One file the package manager reads, by content: its path in the root, SHA-256, size."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, raw: Any, path: str = "file") -> "FactFile":
        """Read and check one object."""
        f = Fields(raw, path)
        rel = f.text("path", max_length=4096)
        if not safe_relative_path(rel):
            raise WireError("{}.path: must be a relative path inside the root".format(path))
        digest = f.text("sha256")
        if not is_sha256(digest):
            raise WireError("{}.sha256: must be 64 lower-case hex characters".format(path))
        size = f.integer("size")
        if size < 0:
            raise WireError("{}.size: must not be negative".format(path))
        return cls(rel, digest, size)


class RootFacts(NamedTuple):
    """What a node's package manager reads from its root, and the few facts that are not
    files.  The server holds every file by hash (:class:`BlobQuery`)."""

    manager: str
    """``apt``, ``dnf``, ``apk`` or ``zypper`` (:data:`MANAGERS`)."""
    root: str
    """The node's root directory: ``/`` on a host, another directory for a sandbox."""
    hostname: str
    files: List[FactFile]
    boot_time: Optional[int] = None
    """The node's last boot (seconds since the epoch); ``None`` for a root other than ``/``."""
    in_chroot: bool = False
    """``ischroot -t`` exited 0 on the node (apt then includes every phased update)."""
    arch: str = ""
    """The native architecture (apt: ``dpkg --print-architecture``; dnf: ``rpm --eval
    %{_arch}``, as for zypper; apk: ``etc/apk/arch``)."""
    agent_version: str = ""
    collected_at: Optional[str] = None
    """ISO 8601 time of collection (UTC)."""

    def hashes(self) -> List[str]:
        """The distinct blobs the facts name, sorted."""
        return sorted({f.sha256 for f in self.files})

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        out = dict(self._asdict())
        out["files"] = [f.to_json() for f in self.files]
        return out

    @classmethod
    def from_json(cls, raw: Any, path: str = "facts") -> "RootFacts":
        """Read and check one object."""
        f = Fields(raw, path)
        manager = f.text("manager")
        if manager not in MANAGERS:
            raise WireError(
                "{}.manager: must be one of {}, got {!r}".format(path, ", ".join(MANAGERS), manager)
            )
        files = [FactFile.from_json(item.raw, item.path) for item in f.objects("files")]
        paths = {x.path for x in files}
        if len(paths) != len(files):
            raise WireError("{}.files: a path is listed twice".format(path))
        for listed in sorted(paths):
            parts = listed.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in paths:
                    raise WireError(
                        "{}.files: {} is listed as a file and as a directory".format(
                            path, "/".join(parts[:i])
                        )
                    )
        return cls(
            manager=manager,
            root=f.text("root", max_length=4096),
            hostname=f.text("hostname", "", max_length=256),
            files=files,
            boot_time=f.optional_integer("boot_time"),
            in_chroot=f.flag("in_chroot", False),
            arch=f.text("arch", "", max_length=32),
            agent_version=f.text("agent_version", "", max_length=32),
            collected_at=f.optional_text("collected_at"),
        )


class BlobQuery(NamedTuple):
    """``POST /api/v1/agent/blobs/missing``: the node names hashes; the answer names the
    ones the server lacks (the node then PUTs each body)."""

    hashes: List[str]

    def to_json(self) -> Dict[str, Any]:
        """The JSON object (``missing`` in the answer, ``hashes`` in the question)."""
        return {"hashes": list(self.hashes)}

    @classmethod
    def from_json(cls, raw: Any, path: str = "query", key: str = "hashes") -> "BlobQuery":
        """Read and check one object (``key="missing"`` for the answer)."""
        f = Fields(raw, path)
        found = f.texts(key)
        for i, h in enumerate(found):
            if not is_sha256(h):
                raise WireError("{}.{}[{}]: must be a SHA-256 in hex".format(path, key, i))
        return cls(found)


class PlannedPackage(NamedTuple):
    """One exact version an Install order puts on the node."""

    name: str
    arch: str
    version: str
    spec: str
    """What the package manager is asked for (apt: ``name=version`` or ``name:arch=version``;
    dnf: the NEVRA ``name-[epoch:]version-release.arch``; apk: ``name=version``; zypper:
    ``name.arch=[epoch:]version-release``)."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, raw: Any, path: str = "package") -> "PlannedPackage":
        """Read and check one object."""
        f = Fields(raw, path)
        spec = f.text("spec", max_length=600)
        if not spec or spec.startswith("-") or any(c.isspace() for c in spec):
            raise WireError("{}.spec: must be a package spec, got {!r}".format(path, spec))
        return cls(
            f.text("name", max_length=256),
            f.text("arch", "", max_length=32),
            f.text("version", max_length=256),
            spec,
        )


class BlockedPackage(NamedTuple):
    """A missing patch the order leaves out, and why (it reports FAILED)."""

    name: str
    arch: str
    reason: str

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, raw: Any, path: str = "blocked") -> "BlockedPackage":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(
            f.text("name", max_length=256),
            f.text("arch", "", max_length=32),
            f.text("reason", "", max_length=4000),
        )


class InstallOrder(NamedTuple):
    """What a node carries out for an Install: these exact versions, in one transaction
    (and each on its own when the transaction fails, so one bad patch does not hold back
    the others)."""

    packages: List[PlannedPackage]
    blocked: List[BlockedPackage]
    lock_timeout: int = 300
    """Seconds to wait for the package manager's lock."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return {
            "packages": [p.to_json() for p in self.packages],
            "blocked": [b.to_json() for b in self.blocked],
            "lock_timeout": self.lock_timeout,
        }

    @classmethod
    def from_json(cls, raw: Any, path: str = "order") -> "InstallOrder":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(
            [PlannedPackage.from_json(i.raw, i.path) for i in f.objects("packages", [])],
            [BlockedPackage.from_json(i.raw, i.path) for i in f.objects("blocked", [])],
            f.integer("lock_timeout", 300),
        )


class PackageResult(NamedTuple):
    """How installing one ordered package went on the node (the server still checks the
    new facts: a package counts as installed only when the node's database says so)."""

    name: str
    arch: str
    returncode: int
    error: str = ""
    """The package manager's most telling error line (empty on success)."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, raw: Any, path: str = "result") -> "PackageResult":
        """Read and check one object."""
        f = Fields(raw, path)
        return cls(
            f.text("name", max_length=256),
            f.text("arch", "", max_length=32),
            f.integer("returncode"),
            f.text("error", "", max_length=4000),
        )


class EvaluateRequest(NamedTuple):
    """``POST /api/v1/agent/invocations/{id}/evaluate``."""

    phase: str
    """:data:`EVALUATE_PHASES`."""
    facts: RootFacts
    order: Optional[InstallOrder] = None
    """``conclude``: the order the node carried out (as the ``plan`` answer gave it)."""
    results: Optional[List[PackageResult]] = None
    """``conclude``: how each ordered package went."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return _drop_none(
            {
                "phase": self.phase,
                "facts": self.facts.to_json(),
                "order": None if self.order is None else self.order.to_json(),
                "results": None if self.results is None else [r.to_json() for r in self.results],
            }
        )

    @classmethod
    def from_json(cls, raw: Any, path: str = "evaluate") -> "EvaluateRequest":
        """Read and check one object."""
        f = Fields(raw, path)
        phase = f.text("phase")
        if phase not in EVALUATE_PHASES:
            raise WireError(
                "{}.phase: must be one of {}, got {!r}".format(
                    path, ", ".join(EVALUATE_PHASES), phase
                )
            )
        order = f.optional_mapping("order")
        results = f.objects("results") if f.raw.get("results") is not None else None
        if phase == "conclude" and (order is None or results is None):
            raise WireError("{}: the conclude phase needs order and results".format(path))
        return cls(
            phase,
            RootFacts.from_json(f.mapping("facts"), path + ".facts"),
            None if order is None else InstallOrder.from_json(order, path + ".order"),
            None if results is None else [PackageResult.from_json(i.raw, i.path) for i in results],
        )


class Evaluation(NamedTuple):
    """The server's answer to an :class:`EvaluateRequest`."""

    report: Optional[Dict[str, Any]] = None
    """``scan`` and ``conclude``: the compliance report (``scan --format json``'s object),
    which the node sends back with its :class:`InvocationResult`."""
    order: Optional[InstallOrder] = None
    """``plan``: what to install (no packages: nothing to do; then ``conclude`` at once)."""
    reboot: bool = False
    """``conclude``: RebootIfNeeded and something was installed: reboot the node now."""

    def to_json(self) -> Dict[str, Any]:
        """The JSON object."""
        return _drop_none(
            {
                "report": self.report,
                "order": None if self.order is None else self.order.to_json(),
                "reboot": self.reboot,
            }
        )

    @classmethod
    def from_json(cls, raw: Any, path: str = "answer") -> "Evaluation":
        """Read and check one object."""
        f = Fields(raw, path)
        order = f.optional_mapping("order")
        return cls(
            f.optional_mapping("report"),
            None if order is None else InstallOrder.from_json(order, path + ".order"),
            f.flag("reboot", False),
        )


BUILD_IMAGE_DOCUMENT = "Patchwarden-BuildImage"
"""The command that builds one image on a node whose agent has the ``image-builder``
capability: parameters ``Pipeline``, ``Version`` (``x.y.z/build``, assigned by the server),
``SourceDateEpoch``, ``Tests`` (``""``: the pipeline's), ``Distribute``, ``Documents`` (the
stored documents the build is made of) and ``Parent`` (``reference``, ``tlsVerify``,
``description``: a parent image as pushed)."""

UPDATE_AGENT_DOCUMENT = "AWS-UpdateSSMAgent"
"""The command that upgrades (or, with ``allowDowngrade``, rolls back) the node component:
parameters ``version`` (default: the server's own bundle) and ``allowDowngrade``
(``"true"``/``"false"``), AWS spelling."""
