"""`baton purge --older-than`: old logs, decisions, dead letters and personal data go; recent ones stay."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import typer

from adapters.store.retention import purge
from adapters.store.tables import (
    assignments,
    booking_group_hosts,
    bookings,
    calendar_sync,
    dead_letters,
    inbox,
    outbox,
    pool_credits,
    record_states,
    reservations,
    sf_leads,
)
from entrypoints.cli.operate import parse_age
from kernel.clock import utc_now
from kernel.ports.inbox import InboxMessage
from kernel.ports.operations import NewDeadLetter
from routing.booking.config import PoolSettings
from routing.booking.fairness import period_of
from tests.support.cli import run_baton
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

OLD = timedelta(days=120)


def backdate(pipeline: Pipeline, record_number: int) -> None:
    """Moves one routed record's rows 120 days into the past."""
    record_id = lead_event(record_number).record_id
    when = utc_now() - OLD
    with pipeline.store.engine.begin() as connection:
        connection.execute(sa.update(assignments).where(assignments.c.record_id == record_id).values(decided_at=when))
        connection.execute(sa.update(record_states).where(record_states.c.record_id == record_id)
                           .values(updated_at=when))
        connection.execute(sa.update(outbox).where(outbox.c.record_id == record_id).values(created_at=when))


def add_dead_letter(pipeline: Pipeline, age: timedelta, email: str) -> None:
    pipeline.store.administration.add_dead_letter(NewDeadLetter(
        message_id=f"m-{email}", queue_name="baton.classify", actor_name="classify", stage="classify",
        routing_ids=[], message={"args": [{"contexts": [{"event": {"fields": {"Email": email}}}]}]},
        reason="InputError", failed_at=utc_now() - age,
    ))


def add_synced_lead(pipeline: Pipeline, lead_id: str, removed: str | None, age: timedelta) -> None:
    with pipeline.store.engine.begin() as connection:
        connection.execute(sa.insert(sf_leads).values(
            id=lead_id, first_name="Ada", last_name="Lovelace", email=f"{lead_id}@example.com", company="Acme",
            system_modstamp=utc_now() - age, removed_reason=removed, written_at=utc_now() - age))


def add_inbox_message(pipeline: Pipeline, message_id: str, age: timedelta, finished: bool) -> None:
    pipeline.store.inbox.accept(InboxMessage(message_id, "baton.classify", "classify", "{}"), utc_now() - age, None)
    if finished:
        pipeline.store.inbox.finish(message_id, "done", utc_now() - age)


def rows(pipeline: Pipeline, table: sa.Table) -> int:
    with pipeline.store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def aged(pipeline: Pipeline) -> Pipeline:
    pipeline.apply(team_config(members=2))
    pipeline.send([lead_event(1), lead_event(2), lead_event(3)])
    pipeline.drain()
    backdate(pipeline, 1)
    backdate(pipeline, 2)
    add_dead_letter(pipeline, OLD, "old@example.com")
    add_dead_letter(pipeline, timedelta(days=1), "new@example.com")
    add_synced_lead(pipeline, "00Q000000000091AAA", "converted", OLD)
    add_synced_lead(pipeline, "00Q000000000092AAA", None, OLD)  # still an open lead: matching needs it
    add_inbox_message(pipeline, "old-done", OLD, finished=True)
    add_inbox_message(pipeline, "old-pending", OLD, finished=False)  # accepted and not finished: it stays
    return pipeline


EXPECTED = {"assignment logs": 2, "record decisions": 2, "dead letters": 1, "outbox rows done": 2,
            "inbox messages finished": 1, "reassign jobs finished": 0, "removed synced leads": 1, "removed synced contacts": 0,
            "booking reservations": 0, "booking group hosts": 0, "bookings": 0, "pool credits of periods over": 0,
            "calendar sync tokens": 0}


def test_dry_run_counts_and_removes_nothing(aged: Pipeline) -> None:
    counts = purge(aged.store.engine, utc_now() - timedelta(days=90), dry_run=True)
    assert counts == EXPECTED
    assert (rows(aged, assignments), rows(aged, dead_letters), rows(aged, sf_leads)) == (3, 2, 2)


def test_purge_removes_only_rows_older_than_the_cut_off(aged: Pipeline) -> None:
    counts = purge(aged.store.engine, utc_now() - timedelta(days=90))

    assert counts == EXPECTED
    assert aged.store.decisions.owner_counts() == {lead_owner(aged, 3): 1}
    assert rows(aged, record_states) == rows(aged, outbox) == rows(aged, inbox) == 1
    assert [letter.message_id for letter in aged.store.administration.dead_letters()] == ["m-new@example.com"]
    with aged.store.engine.connect() as connection:
        assert connection.execute(sa.select(sf_leads.c.id)).scalars().all() == ["00Q000000000092AAA"]
    assert purge(aged.store.engine, utc_now() - timedelta(days=90)) == dict.fromkeys(EXPECTED, 0)


def lead_owner(pipeline: Pipeline, number: int) -> str:
    with pipeline.store.engine.connect() as connection:
        return connection.execute(sa.select(assignments.c.owner_id)
                                  .where(assignments.c.record_id == lead_event(number).record_id)).scalar_one()


def test_bookings_that_ended_before_the_cut_off_go_with_their_reservations(aged: Pipeline) -> None:
    def booking(booking_id: str, ends_at: datetime) -> dict[str, object]:
        return {"id": booking_id, "status": "confirmed", "booking_type": "Intro", "object_type": "Lead",
                "record_id": "00Q000000000001AAA", "scheduler_user_id": "005000000000001AAA",
                "host_id": "005000000000002AAA", "co_host_ids": [], "starts_at": ends_at - timedelta(minutes=30),
                "ends_at": ends_at, "guest_email": "guest@example.com", "invitees": [], "platform": "none",
                "request": {}, "created_at": ends_at, "updated_at": ends_at}

    old, new = utc_now() - OLD, utc_now() + timedelta(days=3)
    with aged.store.engine.begin() as connection:
        connection.execute(sa.insert(bookings), [booking("old", old), booking("new", new)])
        connection.execute(sa.insert(reservations), [
            {"booking_id": "old", "host_id": "005000000000002AAA", "starts_at": old - timedelta(minutes=30), "ends_at": old},
            {"booking_id": "new", "host_id": "005000000000002AAA", "starts_at": new - timedelta(minutes=30), "ends_at": new}])
        connection.execute(sa.insert(booking_group_hosts), [
            {"booking_id": booking_id, "pool": "Engineers", "host_id": "005000000000004AAA"} for booking_id in ("old", "new")])
    counts = purge(aged.store.engine, utc_now() - timedelta(days=90))
    assert (counts["bookings"], counts["booking reservations"], counts["booking group hosts"]) == (1, 1, 1)
    with aged.store.engine.connect() as connection:
        assert connection.execute(sa.select(bookings.c.id)).scalars().all() == ["new"]
        assert connection.execute(sa.select(reservations.c.booking_id)).scalars().all() == ["new"]
        assert connection.execute(sa.select(booking_group_hosts.c.booking_id)).scalars().all() == ["new"]


# 05:00 UTC on Monday 2 March 2026: still Sunday 1 March (week 9) on a UTC-12 team's clock.
CUT_OFF = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
CREDIT_PERIODS = {
    "d2026-02-28": True, "d2026-03-01": False, "d2026-03-02": False,
    "w2025-W52": True, "w2026-W08": True, "w2026-W09": False, "w2026-W10": False,
    "m2025-12": True, "m2026-02": True, "m2026-03": False, "m2026-04": False,
}


def credit_periods(pipeline: Pipeline) -> list[str]:
    with pipeline.store.engine.connect() as connection:
        return sorted(connection.execute(sa.select(pool_credits.c.period)).scalars())


def test_pool_credits_go_with_periods_over_before_the_cut_off_on_every_clock(aged: Pipeline) -> None:
    with aged.store.engine.begin() as connection:
        connection.execute(sa.insert(pool_credits), [
            {"pool": "Handover", "period": period, "host_id": "005000000000002AAA", "credit": 2,
             "updated_at": CUT_OFF} for period in CREDIT_PERIODS])
    assert purge(aged.store.engine, CUT_OFF, dry_run=True)["pool credits of periods over"] == 5
    counts = purge(aged.store.engine, CUT_OFF)
    assert counts["pool credits of periods over"] == 5
    assert credit_periods(aged) == sorted(period for period, over in CREDIT_PERIODS.items() if not over)


@pytest.mark.parametrize("now", [CUT_OFF, datetime(2027, 1, 1, 3, 0, tzinfo=UTC)])  # the second: 2026-W53
def test_the_current_period_of_any_reset_and_clock_stays_with_a_cut_off_of_now(aged: Pipeline, now: datetime) -> None:
    current = sorted({period_of(PoolSettings(team="Handover", reset=reset), now, time_zone)[0]
                      for reset in ("day", "week", "month")
                      for time_zone in ("Etc/GMT+12", "UTC", "Pacific/Kiritimati")})
    with aged.store.engine.begin() as connection:
        connection.execute(sa.insert(pool_credits), [
            {"pool": "Handover", "period": period, "host_id": "005000000000002AAA", "credit": 1, "updated_at": now}
            for period in current])
    assert purge(aged.store.engine, now)["pool credits of periods over"] == 0
    assert credit_periods(aged) == current


def test_calendar_sync_tokens_of_calendars_not_polled_since_the_cut_off_go(aged: Pipeline) -> None:
    bookings_store = aged.store.bookings
    bookings_store.save_calendar_sync_token("gone@example.com", "token-old", utc_now() - OLD)
    bookings_store.save_calendar_sync_token("host@example.com", "token-new", utc_now() - timedelta(minutes=5))
    counts = purge(aged.store.engine, utc_now() - timedelta(days=90))
    assert counts["calendar sync tokens"] == 1
    assert bookings_store.calendar_sync_token("gone@example.com") is None
    assert bookings_store.calendar_sync_token("host@example.com") == "token-new"
    with aged.store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(calendar_sync)).scalar_one() == 1


def test_cli_dry_run_prints_counts_and_the_real_run_removes(aged: Pipeline) -> None:
    def baton(*args: str) -> subprocess.CompletedProcess[str]:
        return run_baton(str(aged.store.engine.url), "purge", *args)

    dry = baton("--older-than", "90d", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["rows"] == EXPECTED and rows(aged, assignments) == 3
    real = baton("--older-than", "90d")
    assert real.returncode == 0, real.stderr
    assert "assignment logs: removed 2" in real.stdout
    assert rows(aged, assignments) == 1
    bad = baton("--older-than", "ninety")
    assert bad.returncode == 2 and "'ninety': expected a positive age like 90d" in bad.stderr


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("12w", 84), ("36h", 1.5)])
def test_ages(text: str, days: float) -> None:
    assert parse_age(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["0d", "90", "-3d", "3m"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_age(text)
