"""``ga4gw token issue`` and ``ga4gw token revoke``: API tokens, minted from the keyring and revoked by jti."""

from __future__ import annotations

import argparse
import re
import time

from gateway.api.auth import SCOPES, TokenAuthority
from gateway.config.keys import load_keyrings
from gateway.config.settings import Settings
from gateway.errors import CommandError

from . import remote
from .options import duration

__all__ = ["register"]

_JTI = re.compile(r"[A-Za-z0-9_-]{8,64}")
_LEEWAY = 60  # beyond exp: the authority accepts a token up to 30 s late


def _token(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(TokenAuthority(load_keyrings(settings).api).issue(args.subject, args.scope, args.ttl))
    except ValueError as exc:
        raise CommandError(f"--scope: {exc}", 2) from None
    return 0


def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.errors import TokenInvalid
    from gateway.stores.revocation import Revocations

    value = args.token.strip()
    revocations = Revocations.in_dir(remote.require_data_dir(settings))
    try:
        if value.count(".") == 2:  # the token itself: its own expiry bounds the revocation
            try:
                jti, exp, subject = TokenAuthority(load_keyrings(settings).api).identify(value)
            except TokenInvalid as exc:
                raise CommandError(f"the token cannot be revoked: {exc}", 2) from None
            if not jti:
                raise CommandError("the token has no jti: rotate GA4GW_API_KEYS to revoke it", 2)
            if exp + _LEEWAY < time.time():
                print(f"token {jti} of {subject} has expired already: it is refused anyway")
                return 0
            revocations.revoke_token(jti, exp + _LEEWAY)
            until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(exp))
            print(f"revoked token {jti} of {subject} (the entry lapses when the token expires, {until})")
        elif _JTI.fullmatch(value):
            revocations.revoke_token(value, None)
            print(f"revoked token {value} (its expiry is unknown: the entry is kept for good)")
        else:
            raise CommandError("give the token itself or its jti (8 to 64 letters, digits, '-' or '_')", 2)
    finally:
        revocations.close()
    print("running gateways on this data directory refuse it within a second")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``token issue`` and ``token revoke``."""
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="mint an API token (JWT) and print it")
    issue.add_argument(
        "--scope", action="append", required=True, help=f"repeatable; one of {', '.join(sorted(SCOPES))}"
    )
    issue.add_argument("--subject", default="operator", help="who the token is for (shows in audit records)")
    issue.add_argument("--ttl", type=duration, default=duration("90d"), help="lifetime, e.g. 30m, 12h, 90d")
    issue.set_defaults(run=_token)
    revoke = token.add_parser("revoke", help="revoke an API token: running gateways refuse it within a second")
    revoke.add_argument("token", metavar="TOKEN_OR_JTI", help="the token (JWT) or its jti")
    revoke.set_defaults(run=_token_revoke)
