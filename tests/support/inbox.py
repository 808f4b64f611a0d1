"""The embedded web process's application in process: bootstrapped with the inbox on a SQLite file (as
``create_app_from_env`` does without a broker URL), with recording fakes, and the helpers its tests share."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq.broker
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.tables import inbox
from baton import runtime
from baton.bootstrap import bootstrap
from baton.configs import apply_config
from baton.settings import Settings
from kernel.clock import utc_now
from tests.support.configs import team_config
from tests.support.pipeline import FlakySink, RecordingOwnerWriter

SETTLED_S = 30.0  # generous: a record routes in well under a second


def embedded_settings(folder: Path) -> Settings:
    return Settings(broker_url="", database_url=f"sqlite:///{folder / 'baton.sqlite3'}", config=None,
                    queue_prefix="baton-inbox", min_backoff_ms=5, max_backoff_ms=20, max_retries=2,
                    config_refresh_ms=0, retry_enqueue_wait_ms=0, worker_threads=4, flush_interval_ms=50,
                    scheduler_interval_s=0.2, outbound_token="path-token", salesforce_org_ids="00D000000000062EAA")


@contextmanager
def embedded_application(folder: Path, sink: FlakySink | None = None) -> Iterator[runtime.Runtime]:
    """The embedded web process's application on ``folder``'s SQLite file (a team config applied); dramatiq's
    global broker is put back afterwards."""
    previous = dramatiq.broker.global_broker
    application = bootstrap(embedded_settings(folder), inbox=True, owner_writer=RecordingOwnerWriter(),
                            sink=sink or FlakySink())
    apply_config(application.ports.store.administration, team_config(members=2), utc_now())
    try:
        yield application
    finally:
        if previous is not None:
            dramatiq.set_broker(previous)
        application.ports.store.engine.dispose()


def inbox_rows(engine: Engine) -> list[tuple[str, str, str | None]]:
    """(actor, status, drainer) of every inbox row, in the order they were accepted."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(  # type: ignore[misc]
            sa.select(inbox.c.actor_name, inbox.c.status, inbox.c.drainer).order_by(inbox.c.accepted_at))]


def wait_for(check: Callable[[], bool], timeout_s: float = SETTLED_S, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True
