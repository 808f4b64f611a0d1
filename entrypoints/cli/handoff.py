"""``baton handoff-link`` (a signed link to the handoff page) and ``baton demo`` (the page on fake services)."""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from baton.clock import utc_now
from entrypoints.cli.common import EXIT_USAGE, app, load_settings, say
from entrypoints.cli.operate import parse_age
from entrypoints.http.page_tokens import PageClaims, link_url

REPO_ROOT = Path(__file__).resolve().parents[2]


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


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port of the page on 127.0.0.1")] = 8765,
    time_zone: Annotated[str, typer.Option("--time-zone", help="the demo scheduler's time zone")] = "Europe/London",
) -> None:
    """Start Baton's web process with the fake Salesforce and Google Calendar servers and seed data, and print
    the handoff page's URL (needs a source checkout: the fakes live in tests/support)."""
    if not (REPO_ROOT / "tests" / "support" / "handoff.py").exists():
        say("baton demo needs a source checkout of Baton (it runs the fake servers in tests/support)")
        raise typer.Exit(EXIT_USAGE)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from dramatiq import Worker

    from adapters.salesforce.writer import SalesforceOwnerWriter
    from baton.bootstrap import bootstrap
    from baton.configs import apply_config
    from entrypoints.http.app import create_app
    from tests.support.handoff import (
        CONSUMER_SECRET,
        LEAD_ID,
        SCHEDULER,
        SECOND_SCHEDULER,
        busy_week,
        fake_services,
        handoff_config,
        serving,
    )

    now = utc_now()
    monday = now.date() - timedelta(days=now.weekday())
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp, fake_services(Path(tmp), monday) as fakes:
        fakes.calendar_fake.busy.update({email: blocks + busy_week(monday + timedelta(days=7))[email]
                                         for email, blocks in fakes.calendar_fake.busy.items()})
        settings = load_settings(broker_url="", database_url=f"sqlite:///{tmp}/demo.sqlite3", queue_prefix="demo",
                                 log_level="WARNING", max_retries=3, min_backoff_ms=100, max_backoff_ms=1000,
                                 page_token_secret=secrets.token_urlsafe(32), canvas_consumer_secret=CONSUMER_SECRET,
                                 public_url=f"http://127.0.0.1:{port}", config=None)
        current = bootstrap(settings, calendar=fakes.calendar, salesforce_events=fakes.events,
                            owner_writer=SalesforceOwnerWriter(salesforce=fakes.salesforce))
        apply_config(current.ports.store, handoff_config(), now)
        worker = Worker(current.broker, worker_timeout=100, worker_threads=4)
        worker.start()
        try:
            with serving(create_app(salesforce_login=lambda: fakes.salesforce), port) as base_url:
                for scheduler, name in ((SCHEDULER, "Sam Scheduler"), (SECOND_SCHEDULER, "Sasha Second")):
                    claims = PageClaims(scheduler_id=scheduler, scheduler_name=name, object_type="Lead",
                                        record_id=LEAD_ID, time_zone=time_zone)
                    say(f"handoff page for {name}:")
                    print(link_url(claims, settings, now), flush=True)
                say(f"Baton on {base_url} with the fake Salesforce ({fakes.org.url}) and Google Calendar "
                    f"({fakes.calendar_fake.url}); Ctrl-C stops it")
                while True:
                    time.sleep(1)
        except KeyboardInterrupt:
            say("stopped")
        finally:
            worker.stop()
