"""`baton reconcile` as an operator runs it: a `baton` process against the fake Salesforce (real simple-salesforce
client, over HTTPS on 127.0.0.1) and PostgreSQL, on a store as code with issue 19's windows open may have left it:
owners that match, owners that differ (an older write won, a write dead-lettered in an outage, a write still
pending), a record gone from Salesforce, and a booking stuck in `reserved`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.tables import outbox
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from kernel.ports.bookings import Hold, NewBooking
from kernel.ports.decisions import Assignment, OwnerWrite
from tests.support.cli import run_baton
from tests.support.stores import mark_writes

pytestmark = pytest.mark.integration
REP_A, REP_B, QUEUE = "005000000000001AAA", "005000000000002AAA", "00G000000000001AAA"
MATCHING, OVERWRITTEN, DEAD_LETTERED, PENDING, GONE = (f"00Q00000000000{n}AAA" for n in range(1, 6))
HELD, CONTACT = "00Q000000000006AAA", "003000000000001AAA"


@dataclass
class Installation:
    store: Store
    org: FakeOrg
    env: dict[str, str]
    database_url: str

    def reconcile(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_baton(self.database_url, "reconcile", *args, **{**self.env, **env})

    def outbox_rows(self) -> list[tuple[str, str, str, str]]:
        with self.store.engine.connect() as connection:
            rows = connection.execute(sa.select(outbox).order_by(outbox.c.id)).all()
        return [(row.routing_id, row.record_id, row.owner_id, row.status) for row in rows]


def decide(store: Store, routing_id: str, record_id: str, owner_id: str | None, ago: timedelta,
           write: str | None, object_type: str = "Lead") -> None:
    """A decision as the assign stage stores it, and where its owner write got to (None: no write)."""
    at = utc_now() - ago
    outcome = "assigned" if owner_id else "held"
    with store.decisions.transaction() as tx:
        tx.save_assignments([Assignment(routing_id, record_id, object_type, outcome, owner_id, "Inbound",
                                        "round_robin", 1, {"routing_id": routing_id}, at, at)])
        if write is not None and owner_id is not None:
            tx.queue_owner_writes([OwnerWrite(routing_id, object_type, record_id, owner_id, "realtime", at)])
    if write not in (None, "pending"):
        mark_writes(store, [routing_id], write, at, None if write == "sent" else "SERVER_UNAVAILABLE")


def book(store: Store, booking_id: str, status: str, ago: timedelta, host: str) -> None:
    created = utc_now() - ago
    starts = created + timedelta(days=1)
    store.bookings.reserve(NewBooking(
        id=booking_id, status=status, booking_type="intro", object_type="Lead", record_id=MATCHING,
        scheduler_user_id=REP_A, host_id=host, pool="AE", co_host_ids=[], starts_at=starts,
        ends_at=starts + timedelta(minutes=30), guest_email="guest@example.com", invitees=[], platform="meet",
        request={}, created_at=created), [Hold(host, starts, starts + timedelta(minutes=30))])


@pytest.fixture
def installation(postgres_url: str, pg_schema: str) -> Iterator[Installation]:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    store = Store(engine)
    hour = timedelta(hours=1)
    decide(store, "r-matching", MATCHING, REP_A, 3 * hour, "sent")
    decide(store, "r-old", OVERWRITTEN, REP_A, 3 * hour, "sent")  # this older write landed last in Salesforce
    decide(store, "r-overwritten", OVERWRITTEN, REP_B, 2 * hour, "sent")
    decide(store, "r-dead", DEAD_LETTERED, REP_B, 2 * hour, "failed")
    decide(store, "r-pending", PENDING, REP_B, hour, "pending")
    decide(store, "r-gone", GONE, REP_A, 3 * hour, "sent")
    decide(store, "r-held", HELD, None, hour, None)
    decide(store, "r-contact", CONTACT, REP_B, hour, "sent", object_type="Contact")
    book(store, "b-stuck", "reserved", 2 * hour, REP_A)
    book(store, "b-recent", "calendar_created", timedelta(minutes=1), REP_B)
    book(store, "b-done", "confirmed", 3 * hour, "005000000000003AAA")
    with fake_salesforce() as (org, _):
        org.records["Lead"] = [{"Id": MATCHING, "OwnerId": REP_A}, {"Id": OVERWRITTEN, "OwnerId": REP_A},
                               {"Id": DEAD_LETTERED, "OwnerId": QUEUE}, {"Id": PENDING, "OwnerId": REP_A},
                               {"Id": HELD, "OwnerId": QUEUE}]
        org.records["Contact"] = [{"Id": CONTACT, "OwnerId": REP_B}]
        env = {"BATON_DATABASE_SCHEMA": pg_schema, "BATON_SALESFORCE_LOGIN_URL": org.url,
               "BATON_SALESFORCE_CLIENT_ID": "consumer-key", "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret,
               "REQUESTS_CA_BUNDLE": org.ca_file, "NO_PROXY": "127.0.0.1", "BATON_BULK_POLL_MS": "5"}
        yield Installation(store, org, env, postgres_url)
    engine.dispose()


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def owners(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str | None, str, str | None]]:
    """record -> (difference, owner in Salesforce, action, status of the decision's write)."""
    return {line["record_id"]: (line["difference"], line["salesforce_owner_id"], line["action"], line["write_status"])
            for line in lines(result) if line["kind"] == "owner"}


def bookings(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str, str]]:
    return {line["booking_id"]: (line["status"], line["last_step"], line["next_step"])
            for line in lines(result) if line["kind"] == "booking"}


def test_differences_and_unfinished_bookings_are_listed_and_nothing_is_written(installation: Installation) -> None:
    before = installation.outbox_rows()

    result = installation.reconcile("--json")

    assert result.returncode == 1, result.stderr[-3000:]
    assert owners(result) == {
        OVERWRITTEN: ("differs", REP_A, "requeue", "sent"),
        DEAD_LETTERED: ("differs", QUEUE, "requeue", "failed"),
        PENDING: ("differs", REP_A, "pending", "pending"),
        GONE: ("missing", None, "none", "sent"),
    }
    assert bookings(result) == {"b-stuck": ("reserved", "booking_request", "booking_calendar"),
                                "b-recent": ("calendar_created", "booking_calendar", "booking_event")}
    assert "6 record(s) compared: 2 match, 3 differ, 1 missing in Salesforce" in result.stderr
    assert installation.outbox_rows() == before
    assert not installation.org.updates and not installation.org.bulk.ingest_jobs()


def test_requeue_adds_exactly_the_differing_writes_and_a_second_run_finds_them_pending(
        installation: Installation) -> None:
    before = installation.outbox_rows()

    first = installation.reconcile("--json", "--requeue")

    assert first.returncode == 1, first.stderr[-3000:]
    assert {record: action for record, (_, _, action, _) in owners(first).items()} == {
        OVERWRITTEN: "requeued", DEAD_LETTERED: "requeued", PENDING: "pending", GONE: "none"}
    assert "2 owner write(s) queued again" in first.stderr
    after = installation.outbox_rows()
    assert after[: len(before)] == before
    assert sorted((record, owner, status) for _, record, owner, status in after[len(before):]) == [
        (OVERWRITTEN, REP_B, "pending"), (DEAD_LETTERED, REP_B, "pending")]
    due = {write.record_id: write.owner_id for write in installation.store.outbox.due(utc_now())}
    assert due == {OVERWRITTEN: REP_B, DEAD_LETTERED: REP_B, PENDING: REP_B}
    assert not installation.org.updates  # the flusher writes them, not reconcile

    second = installation.reconcile("--json", "--requeue")

    assert second.returncode == 1, second.stderr[-3000:]
    assert {record: action for record, (_, _, action, _) in owners(second).items()} == {
        OVERWRITTEN: "pending", DEAD_LETTERED: "pending", PENDING: "pending", GONE: "none"}
    assert "0 owner write(s) queued again" in second.stderr
    assert installation.outbox_rows() == after

    flushed = run_baton(installation.database_url, "flush", "--once", **installation.env)

    assert flushed.returncode == 0, flushed.stderr[-3000:]
    reconciled = installation.reconcile("--json", "--requeue")
    assert owners(reconciled) == {GONE: ("missing", None, "none", "sent")}
    assert "0 owner write(s) queued again" in reconciled.stderr


def test_a_bulk_query_finds_the_same_and_filters_narrow_the_listing(installation: Installation) -> None:
    result = installation.reconcile("--json", "--via", "bulk", "--object", "Lead", "--bookings-older-than", "1h")

    assert result.returncode == 1, result.stderr[-3000:]
    assert set(owners(result)) == {OVERWRITTEN, DEAD_LETTERED, PENDING, GONE}
    assert list(bookings(result)) == ["b-stuck"]
    assert installation.org.bulk.calls("POST", "query")
    assert "5 record(s) compared" in result.stderr

    recent = installation.reconcile("--json", "--since", "90m", "--object", "Contact")

    assert (recent.returncode, recent.stdout) == (0, ""), recent.stderr[-3000:]  # nothing listed: exit 0
    assert "1 record(s) compared: 1 match" in recent.stderr  # b-recent is a Lead's booking


def test_the_tables_name_each_difference_and_booking(installation: Installation) -> None:
    result = installation.reconcile()

    assert result.returncode == 1, result.stderr[-3000:]
    table = result.stdout
    for shown in (OVERWRITTEN, DEAD_LETTERED, PENDING, GONE, "(missing)", "b-stuck", "booking_calendar", "requeue"):
        assert shown in table
    assert MATCHING not in table.split("Bookings not in a final state")[0]


def test_without_a_connected_app_it_says_what_to_set(installation: Installation) -> None:
    result = installation.reconcile("--json", BATON_SALESFORCE_CLIENT_ID="", BATON_SALESFORCE_CLIENT_SECRET="")

    assert result.returncode == 2
    assert "BATON_SALESFORCE_CLIENT_ID" in result.stderr and "no connected app is configured" in result.stderr
    assert result.stdout == ""


def test_bad_options_are_named(installation: Installation) -> None:
    bad_since = installation.reconcile("--since", "yesterday")
    bad_object = installation.reconcile("--object", "Lead; DELETE")

    assert (bad_since.returncode, bad_object.returncode) == (2, 2)
    assert "--since 'yesterday'" in bad_since.stderr
    assert "--object" in bad_object.stderr and "not an object API name" in bad_object.stderr

