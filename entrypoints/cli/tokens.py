"""``baton tokens``: API bearer tokens with scopes (create shows the token once; the store keeps its digest)."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from baton.bootstrap import open_store
from baton.logging import configure_logging
from entrypoints.cli.common import EXIT_USAGE, app, load_settings, out, say
from entrypoints.cli.operate import parse_age
from entrypoints.http.auth import SCOPES
from kernel.clock import utc_now
from kernel.errors import InputError
from kernel.ports.tokens import TokenRepository

tokens_app = typer.Typer(help="API bearer tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
USER_ID = re.compile(r"^005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


def _store() -> TokenRepository:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return open_store(settings).tokens


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="who or what holds it, e.g. 'pubsub relay'")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"repeatable: {', '.join(SCOPES)}")],
    scheduler_user: Annotated[str | None, typer.Option(
        "--scheduler-user", help="books (and pulls records) only as this Salesforce user (005...) and sees only their bookings")] = None,
    rate: Annotated[int | None, typer.Option(
        "--rate", min=1, help="booking API requests a minute (default BATON_BOOKING_RATE_PER_MINUTE)")] = None,
    expires_in: Annotated[str | None, typer.Option("--expires-in", help="lifetime: 90d, 12w or 36h")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object with the token")] = False,
) -> None:
    """Create a token and print it once (stdout); only its SHA-256 digest is stored."""
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        say(f"--scope: unknown {', '.join(unknown)} (known: {', '.join(SCOPES)})")
        raise typer.Exit(EXIT_USAGE)
    if scheduler_user is not None and not USER_ID.match(scheduler_user):
        say(f"--scheduler-user: {scheduler_user!r} is not a Salesforce user id (005 + 12 or 15 characters)")
        raise typer.Exit(EXIT_USAGE)
    lifetime: timedelta | None = None
    if expires_in is not None:
        try:
            lifetime = parse_age(expires_in)
        except typer.BadParameter as exc:
            say(f"--expires-in: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
    now = utc_now()
    token, stored = _store().create(name, scope, now, scheduler_user_id=scheduler_user, rate_per_minute=rate,
                                    expires_at=now + lifetime if lifetime else None)
    if as_json:
        sys.stdout.write(json.dumps({**stored.as_json(), "token": token}) + "\n")
        return
    sys.stdout.write(token + "\n")
    say(f"token {stored.id} ({name}) with {', '.join(stored.scopes)}: shown once, store it now")


@tokens_app.command("list")
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per token")] = False,
) -> None:
    """Every token: id, name, scopes, scheduler, limits, when created, expiring and revoked (never the token)."""
    tokens = _store().all()
    if as_json:
        for token in tokens:
            sys.stdout.write(json.dumps(token.as_json()) + "\n")
        return
    table = Table(title="API tokens")
    for column in ("id", "name", "scopes", "scheduler", "rate/min", "created", "expires", "revoked"):
        table.add_column(column)
    for token in tokens:
        table.add_row(token.id, token.name, " ".join(token.scopes), token.scheduler_user_id or "",
                      str(token.rate_per_minute or ""), f"{token.created_at:%Y-%m-%d %H:%M}",
                      f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "",
                      f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "")
    out.print(table)


@tokens_app.command("revoke")
def revoke(token_id: Annotated[list[str], typer.Argument(help="token ids (baton tokens list)")]) -> None:
    """Revoke tokens: their next request gets a 401."""
    store = _store()
    failed = False
    for one in token_id:
        try:
            store.revoke(one, utc_now())
        except InputError as exc:
            say(str(exc))
            failed = True
            continue
        sys.stdout.write(f"revoked {one}\n")
    if failed:
        raise typer.Exit(EXIT_USAGE)
