"""The CLI's messages against a real server process (SQLite): local admin recovery,
one-line startup errors, 204 answers, deletable kinds, flag names in refusals, and agent
data escaped in tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fleet_processes import PG_BASE_URL, Server, exe, free_port, register_over_http
from vulndb_helpers import DATA

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EXAMPLES = Path(__file__).parents[2] / "examples"


def pw(
    *args: str, server: str = "", token: str = "", home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATCHWARDEN_SERVER": server, "PATCHWARDEN_TOKEN": token}
    if home is not None:
        env["PATCHWARDEN_HOME"] = str(home)
    return subprocess.run([exe(), *args], env=env, capture_output=True, text=True, check=False)


def _one_line_error(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
    return out.stderr


@pytest.mark.parametrize("command", [["server", "migrate"], ["server"]])
def test_unreachable_database_is_one_line_with_the_password_masked(
    tmp_path: Path, command: list[str]
) -> None:
    port = free_port()
    url = f"postgresql+psycopg://pw:s3cret@127.0.0.1:{port}/fleet"
    out = pw(*command, "--database-url", url, home=tmp_path)
    err = _one_line_error(out, 3)
    assert f"postgresql+psycopg://pw:***@127.0.0.1:{port}/fleet" in err
    assert "s3cret" not in err


def test_missing_database_is_one_line(tmp_path: Path) -> None:
    base = PG_BASE_URL.rsplit("/", 1)[0]
    err = _one_line_error(
        pw("server", "migrate", "--database-url", f"{base}/no_such_db_pw", home=tmp_path), 3
    )
    assert "no_such_db_pw" in err
    blocked = tmp_path / "file"
    blocked.write_text("")
    err = _one_line_error(
        pw("server", "migrate", "--database-url", f"sqlite:///{blocked}/x.db", home=tmp_path), 3
    )
    assert str(blocked) in err


def test_local_admin_token_recovers_a_lost_admin(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    server = Server(tmp_path / "home", db)
    try:
        made = pw("server", "token", "create", "--role", "admin", "--database-url", db)
        assert made.returncode == 0, made.stderr
        assert "shown only once" in made.stdout
        token = made.stdout.split()[-1]
        assert token.startswith("pwt_")
        with server.api(token) as api:
            audit = api.get("/api/v1/audit", params={"action": "token.create"}).json()
        assert audit[0]["actor"] == "system"
        named = pw(
            "server", "token", "create", "--role", "viewer", "--name", "ro",
            "--database-url", db, "-o", "json",
        )  # fmt: skip
        assert json.loads(named.stdout)["name"] == "ro"
        taken = pw("server", "token", "create", "--role", "admin", "--name", "ro",
                   "--database-url", db)  # fmt: skip
        assert taken.returncode == 2 and "already exists" in taken.stderr
        empty = tmp_path / "empty.db"
        nothing = pw("server", "token", "create", "--role", "admin",
                     "--database-url", f"sqlite:///{empty}")  # fmt: skip
        assert "no Patchwarden schema" in _one_line_error(nothing, 3)
    finally:
        server.stop()


def test_client_messages(tmp_path: Path) -> None:
    server = Server(tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}")
    try:
        admin, url = server.admin_token, server.url
        # delete window: the 204 answer has no body
        applied = pw("apply", "-f", str(EXAMPLES / "windows" / "sunday-web.yaml"),
                     server=url, token=admin)  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        gone = pw("delete", "window", "sunday-web", server=url, token=admin)
        assert (gone.returncode, gone.stderr) == (0, "")
        assert "deleted" in gone.stdout
        # delete ConformancePack
        pack = EXAMPLES / "conformance-packs" / "patching-essentials.yaml"
        assert pw("apply", "-f", str(pack), server=url, token=admin).returncode == 0
        dropped = pw("delete", "ConformancePack", "patching-essentials", server=url, token=admin)
        assert dropped.returncode == 0, dropped.stderr
        with server.api(admin) as api:
            assert api.get("/api/v1/conformance-packs").json()["packs"] == []
        # command send without a target names the flags
        err = _one_line_error(pw("command", "send", "--operation", "Scan",
                                 server=url, token=admin), 2)  # fmt: skip
        assert "--instance-ids" in err and "--all" in err and "InstanceIds" not in err
        # --server with /api/v1
        err = _one_line_error(pw("get", "nodes", server=f"{url}/api/v1", token=admin), 2)
        assert "without /api/v1" in err
        # an explicitly empty --token is not the environment's
        err = _one_line_error(pw("get", "nodes", "--token", "", server=url, token=admin), 2)
        assert "--token is empty" in err
        # node names and facts from agents are escaped in tables, exact in JSON
        act = json.loads(pw("activation", "create", "-o", "json", server=url, token=admin).stdout)
        hostile = "web\x1b[31m-1"
        register_over_http(url, act, {"hostname": "h\x1b]0;pwned\x07"}, name=hostile)
        table = pw("get", "nodes", server=url, token=admin)
        assert table.returncode == 0, table.stderr
        assert "\x1b" not in table.stdout and "\x07" not in table.stdout
        assert "web\\x1b[31m-1" in table.stdout
        exact = json.loads(pw("get", "nodes", "-o", "json", server=url, token=admin).stdout)
        assert exact[0]["name"] == hostile
        # agent register: a refusal (bad activation code) is exit 2
        root = tmp_path / "root"
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
        refused = pw(
            "agent", "register", "--server", url, "--activation-id", act["activation_id"],
            "--activation-code", "wrong", "--root", str(root), "--state-dir",
            str(tmp_path / "agent"),
        )  # fmt: skip
        assert "activation" in _one_line_error(refused, 2)
    finally:
        server.stop()


def test_db_export_refuses_to_overwrite(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    shutil.copy(DATA / "debian-tracker" / "tracker-vunnel.json", feeds / "json")
    db = ["--db", str(tmp_path / "vuln.db")]
    imported = pw("db", "import", str(feeds), *db, home=tmp_path)
    assert imported.returncode == 0, imported.stderr
    target = tmp_path / "copy.db"
    target.write_text("keep me")
    out = pw("db", "export", str(target), *db, home=tmp_path)
    assert "--force" in _one_line_error(out, 2)
    assert target.read_text() == "keep me"
    forced = pw("db", "export", str(target), "--force", *db, home=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes().startswith(b"SQLite format 3")
