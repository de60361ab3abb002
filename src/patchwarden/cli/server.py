"""``patchwarden server [migrate]``, ``token create``, ``activation create|list``."""

from __future__ import annotations

import argparse
from typing import Any

from patchwarden.cli.api import add_connection_options


def _database_url(args: argparse.Namespace) -> str | None:
    import os

    return args.database_url or os.environ.get("PATCHWARDEN_DATABASE_URL") or None


def _vulndb(args: argparse.Namespace) -> dict[str, Any]:
    """``vulndb_path`` from ``--vulndb-path`` or ``PATCHWARDEN_VULNDB_PATH`` (else the
    settings' default: the local database of ``patchwarden db update``)."""
    import os
    from pathlib import Path

    value = args.vulndb_path or os.environ.get("PATCHWARDEN_VULNDB_PATH")
    return {"vulndb_path": Path(value)} if value else {}


def _serve(args: argparse.Namespace) -> int:
    import logging.config

    import uvicorn

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.logs import format_from_env, log_config
    from patchwarden.server.settings import ServerSettings

    if bool(args.tls_cert) != bool(args.tls_key):
        from patchwarden.errors import InputError

        raise InputError("--tls-cert and --tls-key go together")
    logging.config.dictConfig(log_config(format_from_env(args.log_format), args.log_level))
    settings = ServerSettings(database_url=_database_url(args), **_vulndb(args))
    app = create_app(settings)
    token = bootstrap_admin(app.state.db, settings)
    if token:
        print(f"initial admin token (shown only once): {token}", flush=True)
    scheme = "https" if args.tls_cert else "http"
    print(f"patchwarden server listening on {scheme}://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        log_level=args.log_level,
        log_config=None,  # configured above, before the app started logging
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from patchwarden.adapters.storage import make_engine, upgrade
    from patchwarden.adapters.storage.migrate import current

    engine = make_engine(_database_url(args))
    upgrade(engine)
    print(f"database at revision {current(engine)}")
    engine.dispose()
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    body: dict[str, object] = {"name": args.name, "role": args.role}
    columns = ["id", "name", "role", "token"]
    if args.aws_keys:
        body["aws_keys"] = True
        columns += ["aws_access_key_id", "aws_secret_access_key"]
    made = ServerApi(args).call("POST", "/api/v1/tokens", json=body)
    show(args, made, columns)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    listed = ServerApi(args).call("GET", "/api/v1/tokens")
    show(args, listed, ["id", "name", "role", "created_at", "created_by", "revoked_at"])
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi

    ServerApi(args).call("DELETE", f"/api/v1/tokens/{args.id}")
    print(f"token {args.id} revoked")
    return 0


def _local_token_create(args: argparse.Namespace) -> int:
    """``server token create``: a token straight into the server's database (no API call,
    no token needed: for whoever can read the server's files), printed once."""
    import re

    from patchwarden.adapters.storage import make_engine
    from patchwarden.adapters.storage.token_admin import create_local
    from patchwarden.cli.common import now
    from patchwarden.errors import InputError
    from patchwarden.pipeline.fleet.errors import FleetError

    at = now()
    name = args.name or f"recovery-{args.role}-{at:%Y%m%d%H%M%S}"
    if not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,128}", name):
        raise InputError(f"--name {name!r}: 1-128 of A-Z a-z 0-9 _ . @ : -")
    engine = make_engine(_database_url(args))
    try:
        record, value = create_local(engine, name, args.role, at)
    except FleetError as exc:  # the name is taken
        raise InputError(exc.message) from None
    finally:
        engine.dispose()
    if args.format == "json":
        from patchwarden.cli.api import print_json

        print_json({"id": record.id, "name": record.name, "role": record.role, "token": value})
    else:
        print(f"{record.role} token {record.name} (shown only once): {value}")
    return 0


def _activation_create(args: argparse.Namespace) -> int:
    from patchwarden.agent.register import parse_tags
    from patchwarden.cli.api import ServerApi, show
    from patchwarden.settings import parse_age

    body: dict[str, Any] = {
        "registration_limit": args.limit,
        "expires_in_seconds": int(parse_age(args.expires_in).total_seconds()),
        "tags": parse_tags(args.tag or []),
        "default_instance_name": args.name or "",
        "description": args.description or "",
    }
    made = ServerApi(args).call("POST", "/api/v1/activations", json=body)
    show(args, made, ["activation_id", "activation_code", "registration_limit", "expires_at"])
    return 0


def _activation_list(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    rows = ServerApi(args).call("GET", "/api/v1/activations")
    cols = ["activation_id", "registration_count", "registration_limit", "expires_at", "expired"]
    show(args, rows, cols)
    return 0


def _install_service(args: argparse.Namespace) -> int:
    from pathlib import Path

    from patchwarden.cli.services import install_server

    return install_server(
        _database_url(args),
        args.host,
        args.port,
        Path(args.unit_dir),
        Path(args.env_file),
        not args.no_enable,
    )


def register(sub: Any) -> None:
    """Add ``server``, ``token`` and ``activation``."""
    server = sub.add_parser("server", help="run the fleet server (FastAPI on uvicorn)")
    _database_option(server)
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    server.add_argument(
        "--vulndb-path",
        metavar="FILE",
        help="vulnerability database to assess uploaded inventories against "
        "(env PATCHWARDEN_VULNDB_PATH; default: the one `patchwarden db update` builds)",
    )
    server.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    server.add_argument("--tls-key", metavar="FILE", help="... and this private key")
    server.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="server log level (default info)",
    )
    server.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as human text (default) or one JSON object per line "
        "(env PATCHWARDEN_LOG_FORMAT)",
    )
    server.set_defaults(handler=_serve)
    ssub = server.add_subparsers(dest="server_command", metavar="COMMAND")
    migrate = ssub.add_parser("migrate", help="apply the database migrations and exit")
    _database_option(migrate)
    migrate.set_defaults(handler=_migrate)
    svc = ssub.add_parser(
        "install-service",
        help="write the systemd unit running this patchwarden's server, then "
        "systemctl daemon-reload and enable --now (docs/services.md)",
    )
    _database_option(svc)
    svc.add_argument("--host", default="127.0.0.1", help="address to listen on")
    svc.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    svc.add_argument(
        "--unit-dir",
        default="/etc/systemd/system",
        metavar="DIR",
        help="where to write patchwarden-server.service (default /etc/systemd/system)",
    )
    svc.add_argument(
        "--env-file",
        default="/etc/patchwarden/server.env",
        metavar="FILE",
        help="EnvironmentFile (mode 0600) holding the database URL, which never goes into "
        "the world-readable unit (default /etc/patchwarden/server.env)",
    )
    svc.add_argument("--no-enable", action="store_true", help="only write the files (no systemctl)")
    svc.set_defaults(handler=_install_service)
    local = ssub.add_parser(
        "token", help="create a token directly in the server's database (recovery)"
    )
    lsub = local.add_subparsers(dest="server_token_command", metavar="COMMAND", required=True)
    lcreate = lsub.add_parser(
        "create",
        help="create a token in the database (no server call; for whoever can read the "
        "server's files, e.g. when the last admin token was lost); shown once, audited "
        "as system",
    )
    lcreate.add_argument(
        "--role", required=True, choices=("viewer", "operator", "admin"), help="the token's role"
    )
    lcreate.add_argument("--name", help="a unique name (default recovery-ROLE-TIMESTAMP)")
    lcreate.add_argument(
        "--format", "-o", choices=("table", "json"), default="table", help="output format"
    )
    _database_option(lcreate)
    lcreate.set_defaults(handler=_local_token_create)

    token = sub.add_parser("token", help="operator API tokens")
    tsub = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    create = tsub.add_parser("create", help="create a token (shown once)")
    create.add_argument(
        "--role", required=True, choices=("viewer", "operator", "admin"), help="the token's role"
    )
    create.add_argument("--name", required=True, help="a unique name (audit log actor)")
    create.add_argument(
        "--aws-keys",
        action="store_true",
        help="also make an AWS access key pair with the token's role, for the AWS CLI and "
        "SDKs at /aws/ssm (docs/aws-api.md; shown once)",
    )
    add_connection_options(create)
    create.set_defaults(handler=_token_create)
    tlist = tsub.add_parser("list", help="list tokens (never their secrets)")
    add_connection_options(tlist)
    tlist.set_defaults(handler=_token_list)
    revoke = tsub.add_parser("revoke", help="revoke a token (the last admin token cannot be)")
    revoke.add_argument("id", metavar="TOKEN_ID", help="the token's id (see `token list`)")
    add_connection_options(revoke)
    revoke.set_defaults(handler=_token_revoke)

    act = sub.add_parser("activation", help="hybrid activations for registering agents")
    asub = act.add_subparsers(dest="activation_command", metavar="COMMAND", required=True)
    acreate = asub.add_parser("create", help="create an activation (the code is shown once)")
    acreate.add_argument("--limit", type=int, default=1, help="registrations allowed (1-1000)")
    acreate.add_argument("--expires-in", default="24h", help="e.g. 24h, 7d (at most 30d)")
    acreate.add_argument("--tag", action="append", metavar="K=V", help="default node tag")
    acreate.add_argument("--name", help="default node name")
    acreate.add_argument("--description", help="free text shown in `activation list`")
    add_connection_options(acreate)
    acreate.set_defaults(handler=_activation_create)
    alist = asub.add_parser("list", help="list activations")
    add_connection_options(alist)
    alist.set_defaults(handler=_activation_list)


def _database_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL (env PATCHWARDEN_DATABASE_URL; default SQLite in the data dir), "
        "e.g. postgresql+psycopg://user@host/db",
    )
