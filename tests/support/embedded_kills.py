"""A fault run on the embedded default: the Procfile's web process (no broker URL, SQLite in its folder) with the
fake Salesforce org and the fake Google Calendar, a producer that posts outbound messages and bookings over HTTP
and retries what got no answer or a 503 (as Salesforce and a booking client do), and a killer that SIGKILLs the
web process while its inbox holds pending rows, then starts it again."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import bookings, inbox
from entrypoints.demo.fake_calendar import FakeGoogleCalendar
from entrypoints.demo.fake_salesforce import FakeOrg
from messages.booking import FINAL_STATUSES
from tests.support.booking import AUTH, TOKEN
from tests.support.booking_races import WebProcess
from tests.support.outbound import ORG, XML
from tests.support.services import REPO_ROOT

OUTBOUND_TOKEN = "path-token-5c2f91"
ANSWER_TIMEOUT_S = 30  # one HTTP request's answer
DELIVERY_TIMEOUT_S = 120  # one request's retries until it is acknowledged (restarts included)
RETRY_PAUSE_S = 0.1  # between a request's tries (a sender's pace; no verdict waits on it)
LAND_TIMEOUT_S = 120
PENDING_TIMEOUT_S = 60
POLL_S = 0.02
FINAL = [status.value for status in FINAL_STATUSES]


def embedded_web_env(config: Path, org: FakeOrg, calendar: FakeGoogleCalendar) -> dict[str, str]:
    """The embedded default (no BATON_BROKER_URL, no BATON_DATABASE_URL) with the real Salesforce and Google
    clients pointed at the fakes, at the fault runs' backoffs."""
    assert calendar.key_file is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    return {
        **env, "PYTHONPATH": str(REPO_ROOT), "BATON_LOG_LEVEL": "INFO", "BATON_CONFIG": str(config),
        "BATON_OUTBOUND_TOKEN": OUTBOUND_TOKEN, "BATON_SALESFORCE_ORG_IDS": ORG, "BATON_BOOKING_TOKEN": TOKEN,
        "BATON_SALESFORCE_LOGIN_URL": org.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
        "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret, "REQUESTS_CA_BUNDLE": org.ca_file,
        "NO_PROXY": "127.0.0.1", "BATON_GOOGLE_SERVICE_ACCOUNT_FILE": str(calendar.key_file),
        "BATON_GOOGLE_CALENDAR_API_URL": calendar.url + "/calendar/v3/",
        "BATON_GOOGLE_FREEBUSY_SUBJECT": "admin@example.com", "BATON_GOOGLE_TIMEOUT_MS": "5000",
        "BATON_WORKER_THREADS": "4", "BATON_MIN_BACKOFF_MS": "100", "BATON_MAX_BACKOFF_MS": "2000",
        "BATON_OUTBOX_MIN_BACKOFF_MS": "100", "BATON_OUTBOX_MAX_BACKOFF_MS": "2000",
        "BATON_FLUSH_INTERVAL_MS": "200", "BATON_SCHEDULER_INTERVAL_S": "1", "BATON_CONFIG_REFRESH_MS": "500",
    }


@dataclass(frozen=True)
class Delivery:
    """One request as its sender sends it until acknowledged: an outbound message (``body``) or a booking."""

    label: str
    body: bytes | None = None
    booking: dict[str, Any] | None = None

    def post(self, url: str) -> requests.Response:
        if self.body is not None:
            return requests.post(f"{url}/salesforce/outbound/{OUTBOUND_TOKEN}", data=self.body, headers=XML,
                                 timeout=ANSWER_TIMEOUT_S)
        return requests.post(f"{url}/bookings", json=self.booking, headers=AUTH, timeout=ANSWER_TIMEOUT_S)

    def acknowledged(self, answer: requests.Response) -> bool:
        if self.body is not None:
            return answer.status_code == 200 and "<Ack>true</Ack>" in answer.text
        return answer.status_code == 202


@dataclass
class KillTrigger:
    """A kill due once ``after`` requests were acknowledged; the producer waits before its ``before``-th
    acknowledgement's successor until the kill ``landed`` (so the kill meets a producer with requests left)."""

    after: int
    before: int
    reached: threading.Event = field(default_factory=threading.Event)
    landed: threading.Event = field(default_factory=threading.Event)


class RetryingProducer:
    """Posts each delivery until it is acknowledged (no answer or a 503: tried again; any other answer fails the
    run), in order, and fires the kill triggers set on it."""

    def __init__(self, web: WebProcess, triggers: Sequence[KillTrigger]):
        self.web = web
        self.triggers = list(triggers)
        self.acked: list[Delivery] = []
        self.unanswered = 0
        self.unavailable = 0

    def send_all(self, deliveries: Sequence[Delivery], stop: threading.Event) -> None:
        for delivery in deliveries:
            if stop.is_set():
                return
            self.deliver(delivery)
            self.acked.append(delivery)
            for trigger in self.triggers:
                if len(self.acked) == trigger.after:
                    trigger.reached.set()
                if len(self.acked) == trigger.before and not trigger.landed.wait(LAND_TIMEOUT_S):
                    raise AssertionError(f"the kill due after {trigger.after} acknowledgements never landed")

    def deliver(self, delivery: Delivery) -> None:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while True:
            try:
                answer = delivery.post(self.web.url)
            except requests.RequestException:
                self.unanswered += 1
            else:
                if delivery.acknowledged(answer):
                    return
                assert answer.status_code == 503, f"{delivery.label}: {answer.status_code} {answer.text[:500]}"
                self.unavailable += 1
            assert time.monotonic() < deadline, f"{delivery.label} not acknowledged in {DELIVERY_TIMEOUT_S} s"
            time.sleep(RETRY_PAUSE_S)


@dataclass(frozen=True)
class WebKill:
    """One SIGKILL of the web process: its pid, the inbox rows pending just before, the requests acknowledged."""

    pid: int
    pending: int
    acked: int


def wait_for_pending(store: Store, timeout_s: float = PENDING_TIMEOUT_S) -> int:
    """The inbox's pending rows as soon as there are any."""
    deadline = time.monotonic() + timeout_s
    while (pending := store.inbox.pending()) == 0:
        assert time.monotonic() < deadline, f"the inbox held no pending row for {timeout_s} s"
        time.sleep(POLL_S)
    return pending


def kill_while_pending(web: WebProcess, store: Store, producer: RetryingProducer,
                       triggers: Sequence[KillTrigger], kills: list[WebKill], stop: threading.Event) -> None:
    """For each trigger once reached: SIGKILLs the web process as soon as its inbox holds pending rows, lets
    the producer go on, and starts the web process again (returns once it serves)."""
    for trigger in triggers:
        while not trigger.reached.wait(POLL_S):
            if stop.is_set():
                return
        pending = wait_for_pending(store)
        assert web.process is not None
        pid = web.process.pid
        web.stop(signal.SIGKILL)
        kills.append(WebKill(pid, pending, len(producer.acked)))
        trigger.landed.set()
        web.start()


def in_thread(target: Callable[[], None], name: str, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - the test raises it after joining
            errors.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def inbox_statuses(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(
            sa.select(inbox.c.status, sa.func.count()).group_by(inbox.c.status))}


def unfinished_bookings(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(bookings)
                                      .where(bookings.c.status.not_in(FINAL))).scalar_one())


def pending_owner_writes(store: Store) -> int:
    return sum(count for (status, _), count in store.outbox.summary().items() if status == "pending")


def where_it_stands(store: Store, routing_ids: Sequence[str]) -> dict[str, object]:
    return {"inbox": inbox_statuses(store), "decided": len(store.decisions.assignment_logs(routing_ids)),
            "owner writes pending": pending_owner_writes(store), "unfinished bookings": unfinished_bookings(store)}


def finished(state: dict[str, object], routing_ids: Sequence[str]) -> bool:
    """Every event decided, the inbox empty, no owner write pending and every booking final."""
    inbox_rows = state["inbox"]
    assert isinstance(inbox_rows, dict)
    return (not inbox_rows.get("pending") and state["decided"] == len(routing_ids)
            and state["owner writes pending"] == 0 and state["unfinished bookings"] == 0)


def wait_until_finished(store: Store, routing_ids: Sequence[str], timeout_s: float,
                        stalled_s: float) -> dict[str, object] | None:
    """Until ``finished`` holds at two checks in a row (None), or nothing moved for ``stalled_s`` or
    ``timeout_s`` passed: then where the run stands (what is missing is lost; the reconciliation names it)."""
    deadline = time.monotonic() + timeout_s
    in_a_row = 0
    last, moved = None, time.monotonic()
    while in_a_row < 2:
        state = where_it_stands(store, routing_ids)
        in_a_row = in_a_row + 1 if finished(state, routing_ids) else 0
        if state != last:
            last, moved = state, time.monotonic()
        if time.monotonic() > min(deadline, moved + stalled_s):
            return state
        time.sleep(0.2)
    return None
