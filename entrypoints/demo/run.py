"""``baton demo``: Baton's web app on the fake Salesforce and Google Calendar servers with seed data; prints a
signed link to the handoff page per seeded scheduler and serves until Ctrl-C."""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dramatiq import Worker

from adapters.salesforce.writer import SalesforceOwnerWriter
from baton.bootstrap import bootstrap
from baton.configs import apply_config
from baton.settings import Settings
from entrypoints.demo.handoff import (
    CONSUMER_SECRET,
    LEAD_ID,
    SCHEDULER,
    SECOND_SCHEDULER,
    busy_week,
    fake_services,
    handoff_config,
    serving,
)
from entrypoints.http.app import create_app
from entrypoints.http.page_tokens import PageClaims, link_url
from kernel.clock import utc_now


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_demo(port: int, time_zone: str) -> None:
    """Serve the demo on 127.0.0.1:``port`` until Ctrl-C; the links show the page in ``time_zone``."""
    now = utc_now()
    monday = now.date() - timedelta(days=now.weekday())
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp, fake_services(Path(tmp), monday) as fakes:
        fakes.calendar_fake.busy.update({email: blocks + busy_week(monday + timedelta(days=7))[email]
                                         for email, blocks in fakes.calendar_fake.busy.items()})
        settings = Settings(broker_url="", database_url=f"sqlite:///{tmp}/demo.sqlite3", queue_prefix="demo",
                            log_level="WARNING", max_retries=3, min_backoff_ms=100, max_backoff_ms=1000,
                            page_token_secret=secrets.token_urlsafe(32), canvas_consumer_secret=CONSUMER_SECRET,
                            public_url=f"http://127.0.0.1:{port}", config=None)
        application = bootstrap(settings, calendar=fakes.calendar, salesforce_events=fakes.events,
                                owner_writer=SalesforceOwnerWriter(salesforce=fakes.salesforce))
        apply_config(application.ports.store.administration, handoff_config(), now)
        worker = Worker(application.broker, worker_timeout=100, worker_threads=4)
        worker.start()
        try:
            with serving(create_app(application, salesforce_login=lambda: fakes.salesforce), port) as base_url:
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
