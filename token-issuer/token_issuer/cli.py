"""``token-issuer migrate | serve | rotate-key | prune-keys | keys | create-client |
revoke-client | generate-kek``."""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys

from crm_common import logs
from crm_common.cli import service_main
from crm_common.config import Settings
from crm_common.migrations import migrations_home, upgrade_head

from .adapters.keystore import generate_kek
from .bootstrap import Issuer, build_issuer
from .domain.model import Operator
from .service_layer import clients, keys

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("token_issuer")


def _issuer() -> Issuer:
    settings = Settings.from_env("issuer")
    logs.configure_logging("token-issuer", settings.log_level, stream=sys.stderr)  # stdout: the result
    return build_issuer(settings)


def _print(data) -> int:
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def _cli_operator() -> Operator:
    return Operator(f"cli:{getpass.getuser()}", "token-issuer (command line)")


def migrate_and_key() -> None:
    """Migrations, then the first signing key when there is none."""
    parts = _issuer()
    upgrade_head(SERVICE_DIR, parts.settings.database_url)
    keys.ensure_signing_key(parts.uow_factory(), parts.keys, parts.key_algorithm, parts.now())


def rotate_key_command(argv: list[str]) -> int:
    parts = _issuer()
    p = argparse.ArgumentParser(prog="token-issuer rotate-key",
                                description="Add a signing key: published in the JWKS now, signing after "
                                            "--activate-in seconds; the previous key stays published until its "
                                            "tokens have expired. Also prunes keys whose tokens all expired.")
    p.add_argument("--activate-in", type=int, default=parts.activation_delay,
                   help=f"seconds before the new key signs (default ISSUER_KEY_ACTIVATION_DELAY={parts.activation_delay}; "
                        "0 for an emergency: verifiers then fetch it on first sight)")
    args = p.parse_args(argv)
    if args.activate_in < 0:
        p.error("--activate-in must be >= 0")
    now = parts.now()
    key = keys.rotate_key(parts.uow_factory(), parts.keys, parts.key_algorithm, now,
                          dt.timedelta(seconds=args.activate_in))
    pruned = keys.prune_keys(parts.uow_factory(), now, parts.token_lifetime)
    return _print({"kid": key.kid, "algorithm": key.algorithm, "active_from": key.active_from.isoformat(),
                   "pruned": pruned})


def prune_keys_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="token-issuer prune-keys",
                            description="Delete retired keys whose every token has expired").parse_args(argv)
    parts = _issuer()
    return _print({"pruned": keys.prune_keys(parts.uow_factory(), parts.now(), parts.token_lifetime)})


def keys_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="token-issuer keys", description="List the signing keys and their state").parse_args(argv)
    parts = _issuer()
    return _print(keys.key_states(parts.uow_factory(), parts.now(), parts.token_lifetime))


def create_client_command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="token-issuer create-client",
                                description="Create an API client (the first admin client in production, "
                                            "where HS256 tokens are refused). Prints its secret once.")
    p.add_argument("--name", required=True)
    p.add_argument("--role", action="append", dest="roles", required=True, help="repeatable")
    p.add_argument("--factory", action="append", dest="factories", help="repeatable; default *")
    p.add_argument("--domain", action="append", dest="domains", help="repeatable; default *")
    args = p.parse_args(argv)
    parts = _issuer()
    issued = clients.create_client(parts.uow_factory(), clients.CreateClient(
        args.name, args.roles, args.factories or ["*"], args.domains or ["*"]), _cli_operator(), parts.hasher,
        parts.now())
    return _print({"client_id": issued.client.client_id, "client_secret": issued.client_secret,
                   "roles": issued.client.roles, "factories": issued.client.factories,
                   "domains": issued.client.domains})


def revoke_client_command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="token-issuer revoke-client", description="Revoke an API client")
    p.add_argument("client_id")
    args = p.parse_args(argv)
    parts = _issuer()
    client = clients.revoke_client(parts.uow_factory(), args.client_id, _cli_operator(), parts.now())
    return _print({"client_id": client.client_id, "status": client.status})


def generate_kek_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="token-issuer generate-kek",
                            description="Print a new key-encryption key for ISSUER_KEY_ENCRYPTION_KEY").parse_args(argv)
    print(generate_kek())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `migrate` (and `serve --migrate`) also make the first signing key.
    if argv[:1] == ["migrate"]:
        migrate_and_key()
        return 0
    if argv[:1] == ["serve"] and "--migrate" in argv:
        migrate_and_key()
        argv.remove("--migrate")
    return service_main(
        service="issuer", app_path="token_issuer.app:create_app()", service_dir=SERVICE_DIR, default_port=8006,
        extra={"rotate-key": rotate_key_command, "prune-keys": prune_keys_command, "keys": keys_command,
               "create-client": create_client_command, "revoke-client": revoke_client_command,
               "generate-kek": generate_kek_command},
        argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
