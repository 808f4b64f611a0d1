"""``baton handoff-link`` (a signed link to the handoff page) and ``baton demo`` (the page on fake services)."""

from __future__ import annotations

from typing import Annotated

import typer

from entrypoints.cli.common import EXIT_USAGE, app, load_settings, say
from entrypoints.cli.operate import parse_age
from entrypoints.http.page_tokens import PageClaims, link_url
from kernel.clock import utc_now


@app.command("handoff-link")
def handoff_link(
    record_id: Annotated[str, typer.Option("--record", help="the record's id")],
    scheduler_id: Annotated[str, typer.Option("--scheduler", help="the scheduler's Salesforce user id")],
    object_type: Annotated[str, typer.Option("--object", help="the record's object")] = "Lead",
    name: Annotated[str, typer.Option(help="the scheduler's name, shown on the page and in the Event")] = "",
    time_zone: Annotated[str, typer.Option("--time-zone", help="the scheduler's time zone")] = "UTC",
    valid_for: Annotated[str | None, typer.Option("--valid-for", help="e.g. 2h or 1d; default "
                                                  "BATON_HANDOFF_LINK_TTL_S")] = None,
) -> None:
    """Print a signed link that opens the handoff page for a record outside Salesforce."""
    settings = load_settings()
    if not settings.page_token_secret:
        say("BATON_PAGE_TOKEN_SECRET is not set: the handoff page is off")
        raise typer.Exit(EXIT_USAGE)
    ttl = parse_age(valid_for) if valid_for else None
    claims = PageClaims(scheduler_id=scheduler_id, scheduler_name=name or scheduler_id, object_type=object_type,
                        record_id=record_id, time_zone=time_zone)
    print(link_url(claims, settings, utc_now(), ttl))


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="port of the page on 127.0.0.1")] = 8765,
    time_zone: Annotated[str, typer.Option("--time-zone", help="the demo scheduler's time zone")] = "Europe/London",
) -> None:
    """Serve the handoff page on fake Salesforce and Google Calendar servers with seed data; print its links."""
    from entrypoints.demo.run import run_demo  # the fake servers load only for this command

    run_demo(port, time_zone)
