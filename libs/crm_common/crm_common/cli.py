"""The command line every service shares: ``<service> migrate | serve | token``; services add
their own commands (relay, consume, rebuild, ...) through ``extra``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from .config import Settings
from .migrations import upgrade_head


def token_main(argv: list[str] | None = None) -> int:
    """``crm-token --role admin --factory F001``: print an HS256 JWT signed with JWT_SECRET
    (development and tests; production refuses HS256 unless ALLOW_HS256=1)."""
    from .auth import issue_token
    p = argparse.ArgumentParser(prog="crm-token", description="Print a signed access token")
    p.add_argument("--role", action="append", dest="roles", help="role (repeatable); default admin")
    p.add_argument("--factory", action="append", dest="factories", help="factory id (repeatable); default *")
    p.add_argument("--domain", action="append", dest="domains", help="business domain (repeatable); default *")
    p.add_argument("--position", action="append", dest="positions", default=[])
    p.add_argument("--department", action="append", dest="departments", default=[])
    p.add_argument("--sub", default="u-cli")
    p.add_argument("--name", default="命令行用户")
    p.add_argument("--ttl", type=int, default=3600, help="seconds until expiry")
    args = p.parse_args(argv)
    settings = Settings.from_env("token")
    if settings.jwt_secret is None:
        print("crm-token: HS256 tokens are refused with CRM_ENV=production (unless ALLOW_HS256=1); "
              "get a token from the issuer's POST /oauth/token", file=sys.stderr)
        return 2
    print(issue_token(settings.jwt_secret, sub=args.sub, name=args.name,
                      roles=args.roles or ["admin"], factories=args.factories or ["*"],
                      domains=args.domains or ["*"], positions=args.positions,
                      departments=args.departments, ttl_seconds=args.ttl))
    return 0


def service_main(*, service: str, app_path: str, service_dir: Path, default_port: int,
                 extra: dict[str, Callable[[list[str]], int]] | None = None,
                 argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"migrate", "serve", *(extra or {})}
    usage = f"usage: {service} {{{'|'.join(sorted(commands))}}} [args]  ({service} COMMAND --help for each)"
    if argv[:1] in (["-h"], ["--help"]):
        print(usage)
        return 0
    if not argv or argv[0] not in commands:
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "migrate":
        argparse.ArgumentParser(
            prog=f"{service} migrate",
            description=f"Apply every pending migration to {service.upper()}_DATABASE_URL (alembic upgrade "
                        "head). Safe to run from several replicas at once: on PostgreSQL they take turns "
                        "under an advisory lock.").parse_args(rest)
        upgrade_head(service_dir, Settings.from_env(service).database_url)
        return 0
    if command == "serve":
        if rest[:1] in (["-h"], ["--help"]):
            print(f"usage: {service} serve [--migrate] [gunicorn options]\n\n"
                  f"Serve the HTTP API under gunicorn on PORT (default: {service.upper()}_PORT, else "
                  f"{default_port}); --migrate applies pending migrations first. Settings: PORT, "
                  "WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT, METRICS_PORT.")
            return 0
        os.environ.setdefault("PORT", os.environ.get(f"{service.upper()}_PORT") or str(default_port))
        if "--migrate" in rest:
            rest.remove("--migrate")
            upgrade_head(service_dir, Settings.from_env(service).database_url)
        os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:crm_common.gunicorn_conf",
                                   *rest, app_path])
    return extra[command](rest)
