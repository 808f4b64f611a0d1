"""What the booking tests share: an org config with a booking section, a fixed clock, requests, and the
in-process booking chain on the StubBroker with recording calendar and Salesforce Event fakes."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dramatiq.brokers.stub import StubBroker
from fastapi.testclient import TestClient
from httpx import Response

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.bookings import SqlBookings
from baton.booking.planning import BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import SlotUnavailable, reserve
from baton.configs import ConfigProvider, apply_config
from baton.runtime import Runtime
from entrypoints.http.app import create_app
from kernel.ports.operations import DeadLetter
from messages.booking import BookingRequest
from tests.support.events import lead_event
from tests.support.services import BOOKING_STAGES

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday, before working hours
NINE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
HOSTS = ("005000000000001AAA", "005000000000002AAA", "005000000000003AAA")
ENGINEERS = ("005000000000004AAA", "005000000000005AAA")  # a second pool, for bookings that need one of each
SCHEDULER = "005000000000009AAA"
LEAD_ID = "00Q000000000001AAA"
TOKEN = "booking-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def host_email(host_id: str) -> str:
    return f"rep{host_id[-4]}@example.com"


def booking_config(mode: str = "pooled", reset: str = "month", pool_extra: str = "",
                   member_extra: dict[str, str] | None = None, engineers_extra: str = "") -> str:
    """The booking org config; ``pool_extra`` adds pool keys (``, caps: {per_day: 2}``), ``member_extra`` member
    keys (of hosts and engineers). A second pool, ``Engineers``, has the ``ENGINEERS``; ``engineers_extra`` adds
    its pool keys."""
    extra = member_extra or {}
    engineers = "\n".join(
        f'      - {{id: "{host}", name: "Engineer {index}", email: {host_email(host)}, timezone: UTC'
        f'{extra.get(host, "")}}}'
        for index, host in enumerate(ENGINEERS, start=1)
    )
    members = "\n".join(
        f'      - {{id: "{host}", name: "Rep {index}", email: {host_email(host)}, timezone: UTC{extra.get(host, "")}}}'
        for index, host in enumerate(HOSTS, start=1)
    )
    return f"""teams:
  - name: Handover
    members:
{members}
  - name: Engineers
    members:
{engineers}
default_team: Handover
booking:
  types:
    - name: Intro
      duration_minutes: 30
      buffer_before_minutes: 10
      buffer_after_minutes: 10
      slot_step_minutes: 30
      horizon_days: 14
      working_hours: {{start: "09:00", end: "17:00"}}
      meeting_platform: google_meet
  pools:
    - {{team: Handover, mode: {mode}, reset: {reset}{pool_extra}}}
    - {{team: Engineers, mode: pooled{engineers_extra}}}
  objects:
    Lead:
      default_type: Intro
      host_options: [pool, user, record_owner]
      default_host: {{kind: pool, team: Handover}}
      related_owner_updates: [{{lookup_field: ConvertedAccountId}}]
    Account:
      default_type: Intro
      host_options: [user, pool]
      default_host: {{kind: pool, team: Handover}}
"""


def booking_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "object_type": "Lead",
        "record_id": LEAD_ID,
        "scheduler_user_id": SCHEDULER,
        "scheduler_name": "Sam Scheduler",
        "start": NINE.isoformat(),
        "guest_email": "pat@prospect.example.org",
        "guest_name": "Pat Prospect",
        "invitees": ["lee@prospect.example.org"],
    }
    request.update(overrides)
    return {key: value for key, value in request.items() if value is not None}


@dataclass
class BookingChain:
    app: Runtime
    broker: StubBroker
    store: Store
    calendar: RecordingCalendar
    events: RecordingSalesforceEvents

    @property
    def bookings(self) -> SqlBookings:
        return self.store.bookings

    def drain(self) -> None:
        for _ in range(3):
            for stage in BOOKING_STAGES:
                self.broker.join(self.broker.get_actor(stage).queue_name, timeout=30_000, fail_fast=False)

    def dead_letters(self, count: int, timeout_s: float = 10.0) -> list[DeadLetter]:
        """The stored dead letters once there are ``count`` (the recorder runs just after the queue empties)."""
        deadline = time.monotonic() + timeout_s
        while len(letters := self.store.administration.dead_letters()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return letters

    def send_request(self, request: dict[str, Any]) -> None:
        self.broker.get_actor("booking_request").send(request)


def install_booking_ports(app: Runtime, store: Store, calendar: Any, events: Any, clock: Callable[[], datetime] = lambda: NOW,
                          mode: str = "pooled", reset: str = "month", pool_extra: str = "",
                          member_extra: dict[str, str] | None = None, engineers_extra: str = "",
                          **settings: Any) -> None:
    """``app`` with these booking adapters, a fixed clock, the booking config and the booking token."""
    apply_config(store.administration, booking_config(mode, reset, pool_extra, member_extra, engineers_extra), NOW)
    app.ports = dataclasses.replace(app.ports, store=store, configs=ConfigProvider(store.administration, refresh_ms=0),
                                    calendar=calendar, salesforce_events=events, clock=clock)
    app.settings = app.settings.model_copy(update={"booking_token": TOKEN, **settings})


def lead_id(number: int) -> str:
    """The record id of ``tests.support.events.lead_event(number)``."""
    return lead_event(number).record_id


def get_availability(client: TestClient, record_id: str, hours: int = 1, **params: Any) -> Response:
    """``GET /availability`` for a lead over ``hours`` from 09:00 on the test Monday."""
    query = {"object_type": "Lead", "record_id": record_id, "start": NINE.isoformat(),
             "end": (NINE + timedelta(hours=hours)).isoformat(), **params}
    return client.get("/availability", params=query, headers=AUTH)


@contextmanager
def booking_api(app: Runtime, store: Store) -> Iterator[TestClient]:
    """The HTTP app over ``app`` (with its booking ports); the booking chain is drained when the test ends."""
    assert isinstance(app.broker, StubBroker)
    chain = BookingChain(app, app.broker, store, RecordingCalendar(), RecordingSalesforceEvents())
    yield TestClient(create_app(app))
    chain.drain()


def busy(start: datetime, minutes: int) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)


def reservation_race(app: Runtime, database_url: str, schema: str | None, requests: list[BookingRequest],
                     **booking_settings: Any) -> tuple[list[str], SqlBookings]:
    """Each request reserved by its own thread, all released at once, on a fresh store with the booking config
    (``booking_settings``: ``install_booking_ports`` options): each outcome (``reserved``, ``refused`` or the
    problem), and the store (dispose of its engine)."""
    engine = make_engine(database_url, schema, pool_size=len(requests) + 5)
    upgrade_schema(engine, schema)
    store = Store(engine)
    install_booking_ports(app, store, None, None, **booking_settings)
    ports = BookingPorts.of(app.ports)
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def attempt(request: BookingRequest) -> None:
        barrier.wait()
        try:
            reserve(request, ports, ports.bookings, NOW)
            outcomes.append("reserved")
        except SlotUnavailable:
            outcomes.append("refused")
        except BookingProblems as exc:
            outcomes.append(f"problem: {exc}")

    threads = [threading.Thread(target=attempt, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, SqlBookings(engine)


def assert_one_of_twenty_wins(app: Runtime, database_url: str, schema: str | None = None) -> None:
    """20 threads book one host's 09:00 through the reservation function, each with its own request."""
    requests = [BookingRequest.model_validate(booking_request(host={"kind": "user", "user_id": HOSTS[0]},
                                                              request_id=f"race-{index}")) for index in range(20)]
    outcomes, bookings = reservation_race(app, database_url, schema, requests)
    bookings.engine.dispose()
    assert sorted(outcomes) == ["refused"] * 19 + ["reserved"], outcomes


def assert_extra_pool_caps_hold_in_a_race(app: Runtime, database_url: str, schema: str | None = None) -> None:
    """8 threads race to book 8 different hours of one day, each needing an engineer (``extra_pools``), whose
    pool caps each engineer at one meeting a day: exactly two win (one per engineer), as the reservation counts
    each engineer's meetings again under the per-host lock."""
    requests = [BookingRequest.model_validate(booking_request(
        start=(NINE + timedelta(hours=hour)).isoformat(), extra_pools=["Engineers"], request_id=f"cap-{hour}"))
        for hour in range(8)]
    outcomes, bookings = reservation_race(app, database_url, schema, requests, engineers_extra=", caps: {per_day: 1}")
    starts = bookings.meeting_starts(ENGINEERS, NINE, NINE + timedelta(days=1))
    bookings.engine.dispose()
    assert sorted(outcomes) == ["refused"] * 6 + ["reserved"] * 2, outcomes
    assert [len(starts[engineer]) for engineer in ENGINEERS] == [1, 1]
