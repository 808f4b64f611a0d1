"""What the outbox window tests drive: the flusher as ``baton flush`` builds it on a clock the test steps,
a Salesforce outage of the fake org, and waiting for what real processes do."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.store import Store
from baton import runtime
from baton.bootstrap import build_flusher
from baton.salesforce.flusher import Flusher
from baton.settings import Settings
from entrypoints.demo.fake_salesforce import FakeOrg

WAIT_S = 90.0
OUTAGE_ANSWERS = 10_000  # far more calls than any outage test makes: every call in the outage answers 503


@dataclass
class SteppedClock:
    """The clock port (``kernel.clock.Clock``) at a time the test moves forward; nothing sleeps."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


def default_flusher(current: runtime.Runtime, clock: SteppedClock) -> Flusher:
    """The flusher ``baton flush`` builds (retry settings at their defaults) over this runtime's store and owner
    writer, reading the time from ``clock``; it is the only flusher, so always the leader."""
    settings = Settings(broker_url="", database_url="sqlite://")  # only the retry and interval settings are read
    ports = dataclasses.replace(current.ports, clock=clock)
    return build_flusher(runtime.Runtime(settings, current.broker, ports), is_leader=lambda: True)


def run_flusher(flusher: Flusher, store: Store, clock: SteppedClock, until: datetime) -> int:
    """Ticks the flusher until ``until``, jumping the clock after each tick to the next retry that is due (at
    least one flush interval on); stops early when no row waits for a retry. Returns the ticks run."""
    ticks = 0
    while clock() < until:
        flusher.tick()
        ticks += 1
        due = store.outbox.next_attempt("realtime")
        if due is None:
            break
        clock.advance_to(max(clock() + timedelta(milliseconds=flusher.interval_ms), due))
    return ticks


@contextmanager
def salesforce_unavailable(org: FakeOrg) -> Iterator[None]:
    """Every REST API call to the fake org answers 503 while inside; afterwards it answers normally again."""
    org.fail_next_calls(*[503] * OUTAGE_ANSWERS)
    try:
        yield
    finally:
        org.http_faults.clear()



def wait_until(done: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Polls ``done`` until it holds; a generous deadline, for a loaded machine, names ``what`` never happened."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout_s} s")
        time.sleep(0.2)
