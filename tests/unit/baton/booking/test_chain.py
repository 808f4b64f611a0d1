"""The booking chain on the StubBroker: reserve -> calendar event -> Salesforce Event -> owner -> log, each
stage retrying on its own, and a booking that finally fails undone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from structlog.testing import capture_logs

from adapters.calendar import RecordingCalendar, calendar_event_id
from adapters.salesforce.events import RecordingSalesforceEvents
from adapters.store.bookings import SqlBookings
from baton.booking.ports import BookingPorts
from baton.booking.reserve import reserve
from baton.booking.stages import start_chain
from baton.chains import NOTIFY
from baton.notify.wiring import with_notifications
from kernel.errors import PermanentError, TransientError
from kernel.ports.bookings import BookingRow
from messages.booking import BookingRequest, booking_id_for
from tests.support.booking import (
    HOSTS,
    LEAD_ID,
    NINE,
    BookingChain,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.fake_notifications import smtp_server
from tests.support.pipeline import Pipeline
from tests.unit.entrypoints.cli.test_monitor import baton, json_lines


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    calendar, events = RecordingCalendar(), RecordingSalesforceEvents()
    install_booking_ports(pipeline.app, pipeline.store, calendar, events)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, calendar, events)
    yield chain
    chain.drain()  # a message still in a worker when it stops would stay unfinished on the session's broker


def book(chain: BookingChain, failures: Callable[[], None] = lambda: None, **overrides: object) -> str:
    """Reserves, then arranges ``failures`` and runs the chain to its end."""
    ports = BookingPorts.of(chain.app.ports)
    reserved = reserve(BookingRequest.model_validate(booking_request(**overrides)), ports, chain.bookings,
                       ports.clock())
    failures()
    start_chain(chain.broker, reserved.booking.id, ports)
    chain.drain()
    return reserved.booking.id


def booking_ids(chain: BookingChain) -> list[str]:
    import sqlalchemy as sa

    from adapters.store.tables import bookings

    with chain.store.engine.connect() as connection:
        return list(connection.execute(sa.select(bookings.c.id)).scalars())


def outbox_rows(chain: BookingChain) -> list[dict[str, object]]:
    import sqlalchemy as sa

    from adapters.store.tables import outbox

    with chain.store.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(outbox))]


def test_a_booking_is_confirmed_with_one_calendar_event_one_salesforce_event_and_the_owner_in_the_outbox(
    chain: BookingChain, pipeline: Pipeline
) -> None:
    booking_id = book(chain)

    booking = chain.bookings.get(booking_id)
    assert booking is not None and booking.status == "confirmed"
    host = booking.host_id
    [event] = chain.calendar.created
    assert event.event_id == calendar_event_id(booking_id)
    assert event.organizer_email == host_email(host)
    assert set(event.attendee_emails) == {host_email(host), "pat@prospect.example.org", "lee@prospect.example.org"}
    assert event.with_meet and booking.meet_link
    assert event.summary == "Intro: Pat Prospect with Rep %s (booked by Sam Scheduler)" % (HOSTS.index(host) + 1)
    [(external_id, fields)] = chain.events.upserts
    assert external_id == booking_id
    assert fields["WhoId"] == LEAD_ID and fields["OwnerId"] == host and "WhatId" not in fields
    assert fields["StartDateTime"] == "2030-01-07T09:00:00.000+0000"
    assert booking.salesforce_event_id == chain.events.events[booking_id]["Id"]
    [row] = outbox_rows(chain)
    assert (row["record_id"], row["owner_id"], row["status"]) == (LEAD_ID, host, "pending")
    [logged] = pipeline.sink.published
    assert (logged.record_id, logged.owner_id, logged.method) == (LEAD_ID, host, "booking")


def test_the_meeting_plus_buffers_stays_reserved_after_confirmation(chain: BookingChain) -> None:
    booking_id = book(chain)

    booking = chain.bookings.get(booking_id)
    assert booking is not None
    held = chain.bookings.held_times([booking.host_id], NINE - timedelta(hours=1), NINE + timedelta(hours=2))
    [hold] = held[booking.host_id]
    assert (hold.start, hold.end) == (NINE - timedelta(minutes=10), NINE + timedelta(minutes=40))


def test_a_transient_calendar_failure_retries_its_stage_and_creates_one_event(chain: BookingChain) -> None:
    booking_id = book(chain, lambda: chain.calendar.fail_next(TransientError("503"), TransientError("503")))

    booking = chain.bookings.get(booking_id)
    assert booking is not None and booking.status == "confirmed"
    assert len(chain.calendar.created) == 1
    assert len(chain.events.upserts) == 1


def test_a_salesforce_event_failing_for_good_undoes_the_booking(chain: BookingChain, pipeline: Pipeline) -> None:
    chain.events.fail_next(PermanentError("Salesforce refused the Event upsert (400): INVALID_FIELD"))

    with capture_logs() as logs:
        booking_id = book(chain)

    booking = chain.bookings.get(booking_id)
    assert booking is not None and booking.status == "failed"
    assert "INVALID_FIELD" in (booking.error or "") and "booking_event" in (booking.error or "")
    assert chain.calendar.events == {}
    assert chain.calendar.cancelled == [(host_email(booking.host_id), calendar_event_id(booking_id))]
    assert chain.bookings.held_times(HOSTS, NINE - timedelta(days=1), NINE + timedelta(days=1)) == {
        host: [] for host in HOSTS}
    assert outbox_rows(chain) == [] and pipeline.sink.published == []
    assert [letter.stage for letter in chain.dead_letters(1)] == ["booking_event"]
    assert any(entry["event"] == "booking_failed" for entry in logs)


def test_transient_failures_past_the_retries_fail_the_booking_and_free_the_slot_for_another(
    chain: BookingChain,
) -> None:
    max_retries = chain.app.settings.max_retries
    chain.events.fail_next(*[TransientError("UNABLE_TO_LOCK_ROW")] * (max_retries + 1))

    first = book(chain)
    second = book(chain)

    assert chain.bookings.get(first).status == "failed"  # type: ignore[union-attr]
    assert chain.bookings.get(second).status == "confirmed"  # type: ignore[union-attr]
    assert chain.bookings.get(second).starts_at == NINE  # type: ignore[union-attr]


def test_a_booking_request_from_a_queue_goes_through_the_same_chain(chain: BookingChain) -> None:
    chain.send_request(booking_request(request_id="platform-event-42"))
    chain.send_request(booking_request(request_id="platform-event-42"))  # redelivered
    chain.drain()

    [event] = chain.calendar.created
    confirmed = [booking for booking in (chain.bookings.get(e) for e in chain.events.events) if booking]
    assert [booking.status for booking in confirmed] == ["confirmed"]
    assert event.event_id == calendar_event_id(confirmed[0].id)


class OvertakenBookings(SqlBookings):
    """The bookings as one delivery of a request sees them while another delivery of the same request (a
    redelivery after a connection reset, the first still running) reserves just after this one looked."""

    def __init__(self, engine: Engine, other_delivery: Callable[[], object]):
        super().__init__(engine)
        self.other_delivery = other_delivery
        self.overtaken = False

    def get(self, booking_id: str) -> BookingRow | None:
        found = super().get(booking_id)
        if not self.overtaken:
            self.overtaken = True
            self.other_delivery()
        return found


def test_a_request_delivered_again_while_its_first_delivery_reserves_gets_that_booking_not_a_taken_slot(
    chain: BookingChain,
) -> None:
    ports = BookingPorts.of(chain.app.ports)
    request = BookingRequest.model_validate(booking_request(request_id="redelivered-mid-reserve",
                                                            host={"kind": "user", "user_id": HOSTS[0]}))
    first = SqlBookings(chain.store.engine)
    second = OvertakenBookings(chain.store.engine, lambda: reserve(request, ports, first, ports.clock()))

    reserved = reserve(request, ports, second, ports.clock())

    assert second.overtaken and not reserved.created
    assert reserved.booking.id == booking_id_for("redelivered-mid-reserve")
    assert booking_ids(chain) == [reserved.booking.id]


def test_a_queued_request_for_a_taken_time_is_dead_lettered_with_the_alternatives(
    chain: BookingChain, pipeline: Pipeline
) -> None:
    chain.calendar.busy_by_email = {host_email(host): [] for host in HOSTS}
    for index in range(len(HOSTS)):
        book(chain, guest_email=f"guest{index}@prospect.example.org")

    chain.send_request(booking_request(request_id="late"))
    chain.drain()

    [letter] = chain.dead_letters(1)
    assert letter.stage == "booking_request"
    assert "is not free" in letter.reason and "nearest free: 2030-01-07T10:00:00+00:00" in letter.reason


def test_the_chain_without_calendar_or_salesforce_still_confirms_and_assigns(pipeline: Pipeline) -> None:
    install_booking_ports(pipeline.app, pipeline.store, None, None)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())

    booking_id = book(chain)

    booking = pipeline.app.ports.store.bookings.get(booking_id)
    assert booking is not None and booking.status == "confirmed"
    assert booking.calendar_event_id is None and booking.salesforce_event_id is None
    assert [row["owner_id"] for row in outbox_rows(chain)] == [booking.host_id]


def book_confirmed_and_failed(chain: BookingChain) -> tuple[str, str]:
    """One booking confirmed, then one whose Salesforce Event is refused for good (failed and undone)."""
    confirmed_id = book(chain)
    chain.events.fail_next(PermanentError("Salesforce refused the Event upsert (400): INVALID_FIELD"))
    return confirmed_id, book(chain, guest_email="other@prospect.example.org")


def test_a_booking_log_goes_on_the_stream_keyed_by_object_pool_and_status_when_it_ends(
    chain: BookingChain, pipeline: Pipeline
) -> None:
    confirmed_id, failed_id = book_confirmed_and_failed(chain)

    confirmed, failed = pipeline.sink.published_entries
    assert (confirmed.kind, confirmed.routing_key) == ("booking", "booking.Lead.Handover.confirmed")
    assert confirmed.body["booking_id"] == confirmed_id and confirmed.body["kind"] == "booking"
    assert confirmed.body["subject"].startswith("Intro: Pat Prospect with Rep ")
    assert confirmed.body["meet_link"] and confirmed.body["salesforce_event_id"]
    assert failed.routing_key == "booking.Lead.Handover.failed"
    assert failed.body["booking_id"] == failed_id and "INVALID_FIELD" in failed.body["error"]


def test_the_host_of_a_confirmed_booking_is_told_once_with_the_booking_template(
    chain: BookingChain, pipeline: Pipeline
) -> None:
    with smtp_server() as (mailbox, port):
        current = pipeline.app
        configured = current.settings.model_copy(update={"notify_smtp_host": "127.0.0.1", "notify_smtp_port": port,
                                                         "notify_smtp_tls": "none"})
        ports = dataclasses.replace(current.ports, sink=with_notifications(configured, pipeline.sink, pipeline.broker))
        pipeline.app.settings, pipeline.app.ports = configured, ports

        booking_id = book(chain)
        pipeline.broker.join(pipeline.broker.get_actor(NOTIFY.name).queue_name, timeout=30_000, fail_fast=False)

    booking = chain.bookings.get(booking_id)
    assert booking is not None and booking.status == "confirmed"
    assert mailbox.recipients == [[host_email(booking.host_id)]]  # the booking mail only, no "Lead is yours" too
    [message] = mailbox.messages
    assert " ".join(message["Subject"].split()).startswith("Meeting booked: Intro: Pat Prospect with Rep ")
    assert "2030-01-07T09:00:00+00:00 to 2030-01-07T09:30:00+00:00" in message.get_payload()


def test_a_co_host_is_invited_and_held_and_a_related_account_gets_the_host_as_owner(chain: BookingChain) -> None:
    account = "001000000000001AAA"
    booking_id = book(chain, co_hosts=[HOSTS[2]], record_fields={"ConvertedAccountId": account})

    booking = chain.bookings.get(booking_id)
    assert booking is not None and booking.status == "confirmed"
    assert booking.host_id != HOSTS[2] and booking.co_host_ids == [HOSTS[2]]
    [event] = chain.calendar.created
    assert host_email(HOSTS[2]) in event.attendee_emails
    held = chain.bookings.held_times([booking.host_id, HOSTS[2]], NINE - timedelta(hours=1), NINE + timedelta(hours=2))
    assert {host: [(h.start, h.end) for h in holds] for host, holds in held.items()} == {
        host: [(NINE - timedelta(minutes=10), NINE + timedelta(minutes=40))] for host in (booking.host_id, HOSTS[2])}
    assert sorted((row["object_type"], row["record_id"], row["owner_id"]) for row in outbox_rows(chain)) == [
        ("Account", account, booking.host_id), ("Lead", LEAD_ID, booking.host_id)]


def test_logs_since_reads_ended_bookings_from_the_store_beside_the_assignments(
    chain: BookingChain, tmp_path: Path
) -> None:
    confirmed_id, failed_id = book_confirmed_and_failed(chain)
    cli_env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}"}

    everything = json_lines(baton(cli_env, "logs", "--since", "1h", "--json"))
    failed = json_lines(baton(cli_env, "logs", "--since", "1h", "--kind", "booking", "--outcome", "failed", "--json"))
    table = baton(cli_env, "logs", "--since", "1h", "--kind", "booking")
    unknown = baton(cli_env, "logs", "--since", "1h", "--kind", "bookings")

    assert sorted((entry["kind"], entry.get("booking_id") or entry["method"]) for entry in everything) == sorted([
        ("assignment", "booking"), ("booking", confirmed_id), ("booking", failed_id)])
    assert [(entry["booking_id"], entry["status"]) for entry in failed] == [(failed_id, "failed")]
    assert "INVALID_FIELD" in failed[0]["error"]
    assert table.returncode == 0 and "confirmed" in table.stdout and "Handover" in table.stdout
    assert unknown.returncode == 2 and "unknown --kind bookings" in unknown.stderr
