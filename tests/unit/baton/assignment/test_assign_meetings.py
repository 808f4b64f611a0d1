"""A routing team counting meetings (``fairness.counts: meetings``): the assign stage gives each record to the
member who hosted the fewest meetings this period, read from the bookings in the store, on a frozen clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kernel.ports.bookings import Hold, NewBooking
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)
REP_1, REP_2, REP_3 = (member_id(n) for n in (1, 2, 3))
MEETINGS_TEAM = team_config(members=3, fairness="{counts: meetings, reset: week}")


@dataclasses.dataclass
class FrozenClock:
    now: datetime = MONDAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(pipeline: Pipeline) -> FrozenClock:
    clock = FrozenClock()
    current = pipeline.app
    current.settings, current.ports = current.settings, dataclasses.replace(current.ports, clock=clock)
    return clock


class Meetings:
    """Books meetings in the store as the booking chain does (a booking row and its host's hold)."""

    def __init__(self, pipeline: Pipeline, clock: FrozenClock):
        self.store = pipeline.store.bookings
        self.clock = clock
        self.booked = 0

    def book(self, host: str, count: int = 1) -> list[str]:
        ids = []
        for _ in range(count):
            self.booked += 1
            booking_id = f"meeting-{self.booked}"
            start = self.clock.now + timedelta(days=1, hours=self.booked)
            self.store.reserve(
                NewBooking(id=booking_id, status="confirmed", booking_type="Intro", object_type="Lead",
                           record_id="00Q000000000001AAA", scheduler_user_id=REP_1, host_id=host, pool=None,
                           co_host_ids=[], starts_at=start, ends_at=start + timedelta(minutes=30),
                           guest_email="pat@example.org", invitees=[], platform="none", request={},
                           created_at=self.clock.now),
                [Hold(host, start, start + timedelta(minutes=30))],
            )
            ids.append(booking_id)
        return ids

    def cancel(self, booking_id: str) -> None:
        booking = self.store.get(booking_id)
        assert booking is not None and self.store.release(booking, "cancelled", self.clock.now, None)


@pytest.fixture
def meetings(pipeline: Pipeline, clock: FrozenClock) -> Meetings:
    return Meetings(pipeline, clock)


def route(pipeline: Pipeline, numbers: range) -> list[str | None]:
    """Owners of these leads, in the order decided (one message: one decision round)."""
    pipeline.sink.published.clear()
    pipeline.send([lead_event(number) for number in numbers])
    pipeline.drain()
    decided = {log.record_id: log.owner_id for log in pipeline.sink.published}
    return [decided[lead_event(number).record_id] for number in numbers]


def test_the_fewest_meetings_this_week_take_the_record_cancelled_ones_stop_counting_and_monday_starts_over(
    pipeline: Pipeline, clock: FrozenClock, meetings: Meetings
) -> None:
    pipeline.apply(MEETINGS_TEAM)
    meetings.book(REP_1)
    rep_2_meetings = meetings.book(REP_2, 2)
    # REP_3 hosted none: both records are hers (a team counting records would give them to REP_1 and REP_2).
    assert route(pipeline, range(1, 3)) == [REP_3, REP_3]

    clock.now += timedelta(hours=1)
    meetings.book(REP_3, 3)
    # REP_1 hosted the fewest (1) though REP_2 has had fewer records (none).
    assert route(pipeline, range(3, 4)) == [REP_1]
    [log] = pipeline.sink.published
    assert log.reasons[-1] == "round_robin: fewest meetings for their weight this period (1 hosted)"

    clock.now += timedelta(hours=1)
    meetings.cancel(rep_2_meetings[0])
    # REP_2's cancelled meeting no longer counts: 1 each for REP_1 and REP_2, whose turn is older.
    assert route(pipeline, range(4, 6)) == [REP_2, REP_1]
    state = pipeline.store.decisions.team_state("Inbound")
    assert state is not None and state["period"] == "w2026-W45"
    assert {member: counts.get("period_count", 0) for member, counts in state["members"].items()} == {
        REP_1: 1, REP_2: 1, REP_3: 3}

    clock.now = MONDAY + timedelta(days=7)
    meetings.book(REP_1)
    meetings.book(REP_2)
    # A new week: last week's meetings count no more, so REP_3 (3 last week, none this week) is the fewest.
    assert route(pipeline, range(6, 7)) == [REP_3]


def test_meetings_are_counted_by_when_they_take_place_with_count_by_meeting_time(
    pipeline: Pipeline, clock: FrozenClock, meetings: Meetings
) -> None:
    pipeline.apply(team_config(members=2, fairness="{counts: meetings, reset: day, count_by: meeting_time}"))
    meetings.book(REP_1)  # booked today for tomorrow: does not count today
    meetings.book(REP_2)
    clock.now = MONDAY - timedelta(days=1)
    meetings.book(REP_2)  # booked yesterday for today: counts today
    clock.now = MONDAY
    assert route(pipeline, range(1, 3)) == [REP_1, REP_1]


def test_a_decision_round_reads_the_meetings_with_one_query_and_a_records_team_with_none(
    pipeline: Pipeline, clock: FrozenClock, meetings: Meetings
) -> None:
    statements: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM bookings" in statement:
            statements.append(statement)

    engine = pipeline.store.engine
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        pipeline.apply(team_config(members=3, fairness="{reset: week}"))
        route(pipeline, range(1, 11))
        assert statements == []
        pipeline.apply(MEETINGS_TEAM)
        owners = route(pipeline, range(11, 21))
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    assert len(statements) == 1 and "GROUP BY hosted.host_id" in statements[0]
    assert len(owners) == 10
