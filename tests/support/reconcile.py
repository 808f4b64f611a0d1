"""What reached the fake Salesforce org and the fake Google Calendar, compared with what Baton decided, record
by record and booking by booking, after a fault run.

The promise checked: every sent event reached exactly one final state (decided, held, or dead-lettered with a
reason) and bumped its team's counter at most once; every record's owner in the org is Baton's latest decision
for it, and for an object the config writes facts back for, the fields it holds are the final decision's;
every booking request made exactly one booking, which is confirmed, with exactly one live calendar event,
one Salesforce Event and its hosts' reservations; and nothing exists in the org or the calendar without the
decision or booking it came from. Each broken promise is a ``Problem`` with the record or booking it concerns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from adapters.store.tables import (
    assignments,
    bookings,
    dead_letters,
    holds,
    outbox,
    record_states,
    reservations,
    team_states,
)
from entrypoints.demo.fake_calendar import FakeGoogleCalendar
from entrypoints.demo.fake_salesforce import FakeOrg
from messages import RecordEvent
from messages.booking import BookingStatus

EXAMPLES_SHOWN = 5

# Problem kinds, grouped by what they mean for the run's counts.
NO_FINAL_STATE = "event reached no final state"
SEVERAL_FINAL_STATES = "event reached more than one final state"
DEAD_LETTERED = "event dead-lettered"
DEAD_LETTER_WITHOUT_REASON = "dead letter without a reason"
COUNTER_BUMPED_TWICE = "team counters count more decisions than were made"
COUNTER_MISSED = "team counters count fewer decisions than were made"
OWNER_NOT_WRITTEN = "decided owner never reached Salesforce"
OWNER_WITHOUT_DECISION = "owner written to Salesforce without a decision"
OLDER_OWNER_WON = "an older decision's owner overwrote the latest decision's (issue 19 window 4)"
WRONG_OWNER = "owner in Salesforce is none of Baton's decisions for the record"
FACTS_NOT_WRITTEN = "the final decision's routing facts never reached Salesforce"
OLDER_FACTS_WON = "the routing facts in Salesforce are not the final decision's"
REQUEST_WITHOUT_BOOKING = "booking request made no booking"
REQUEST_WITH_SEVERAL_BOOKINGS = "booking request made more than one booking"
BOOKING_NOT_CONFIRMED = "booking did not end confirmed"
EVENT_MISSING = "confirmed booking has no live calendar event"
EVENT_DOUBLED = "confirmed booking has more than one live calendar event"
ORPHAN_EVENT = "live calendar event without a confirmed booking"
SALESFORCE_EVENT_MISSING = "confirmed booking has no Salesforce Event"
ORPHAN_SALESFORCE_EVENT = "Salesforce Event without a confirmed booking"
RESERVATION_MISSING = "confirmed booking's host has no reservation"
ORPHAN_RESERVATION = "reservation without a confirmed booking"
DEAD_LETTER_QUEUED = "message left in a dead-letter queue"

LOST = frozenset({NO_FINAL_STATE, OWNER_NOT_WRITTEN, FACTS_NOT_WRITTEN, REQUEST_WITHOUT_BOOKING, BOOKING_NOT_CONFIRMED, EVENT_MISSING,
                  SALESFORCE_EVENT_MISSING, RESERVATION_MISSING, COUNTER_MISSED})
DOUBLED = frozenset({SEVERAL_FINAL_STATES, COUNTER_BUMPED_TWICE, REQUEST_WITH_SEVERAL_BOOKINGS, EVENT_DOUBLED,
                     ORPHAN_EVENT, ORPHAN_SALESFORCE_EVENT, ORPHAN_RESERVATION})
WRONG = frozenset({OLDER_OWNER_WON, WRONG_OWNER, OWNER_WITHOUT_DECISION, OLDER_FACTS_WON})
LETTERED = frozenset({DEAD_LETTERED, DEAD_LETTER_WITHOUT_REASON, DEAD_LETTER_QUEUED})


@dataclass(frozen=True)
class Problem:
    kind: str
    subject: str  # the routing id, record id, request id, booking id or calendar event it concerns
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}" if self.detail else self.subject


@dataclass
class Reconciliation:
    """The outcome of one comparison: what was checked, and every problem found."""

    events: int = 0
    records: int = 0
    owners_matching: int = 0
    decided: int = 0
    held: int = 0
    requests: int = 0
    bookings: int = 0
    bookings_confirmed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, subject: str, detail: str = "") -> None:
        self.problems.append(Problem(kind, subject, detail))

    def count(self, kinds: frozenset[str]) -> int:
        return sum(1 for problem in self.problems if problem.kind in kinds)

    def by_kind(self) -> dict[str, list[Problem]]:
        grouped: dict[str, list[Problem]] = defaultdict(list)
        for problem in self.problems:
            grouped[problem.kind].append(problem)
        return dict(grouped)

    def summary(self) -> dict[str, int]:
        return {kind: len(found) for kind, found in sorted(self.by_kind().items())}

    def report(self) -> str:
        """Every kind of problem with how many and the first few of each."""
        lines = []
        for kind, found in sorted(self.by_kind().items()):
            shown = "; ".join(str(problem) for problem in found[:EXAMPLES_SHOWN])
            more = f" (+{len(found) - EXAMPLES_SHOWN} more)" if len(found) > EXAMPLES_SHOWN else ""
            lines.append(f"- {kind}: {len(found)}: {shown}{more}")
        return "\n".join(lines) or "no problem"


@dataclass(frozen=True)
class StoreView:
    """What Baton's store says, read once after the run."""

    decisions: dict[str, dict[str, Any]]  # routing id -> assignment row
    decisions_by_record: dict[str, list[dict[str, Any]]]  # record id -> its assignment rows, oldest first
    latest_owner: dict[str, str | None]  # record id -> the owner of Baton's latest decision (record state)
    owner_writes: dict[str, list[tuple[Any, ...]]]  # record id -> its outbox rows (sequence, owner, status, ...)
    fact_writes: dict[str, list[dict[str, Any]]]  # record id -> its outbox rows carrying routing facts, by sequence
    latest_routing: dict[str, str]  # record id -> the routing id of Baton's latest decision (record state)
    held: set[str]
    dead_letters: list[dict[str, Any]]
    team_decisions: int
    bookings: list[dict[str, Any]]
    reservations: set[tuple[str, str]]


def read_store(engine: sa.Engine, routing_ids: Iterable[str]) -> StoreView:
    wanted = set(routing_ids)
    with engine.connect() as connection:
        decided = [row._asdict() for row in connection.execute(
            sa.select(assignments.c.routing_id, assignments.c.record_id, assignments.c.outcome, assignments.c.owner_id,
                      assignments.c.team, assignments.c.decided_at).order_by(assignments.c.decided_at))]
        state_rows = connection.execute(
            sa.select(record_states.c.record_id, record_states.c.owner_id, record_states.c.routing_id)).all()
        states = {row.record_id: row.owner_id for row in state_rows}
        fact_writes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in connection.execute(sa.select(outbox.c.record_id, outbox.c.sequence, outbox.c.routing_id,
                                                outbox.c.status, outbox.c.fields)
                                      .order_by(outbox.c.sequence)):
            if row.fields is not None:  # a row without facts (a booking's owner) may hold SQL or JSON null
                fact_writes[row.record_id].append(row._asdict())
        held = {row.routing_id for row in connection.execute(sa.select(holds.c.routing_id))}
        letters = [row._asdict() for row in connection.execute(
            sa.select(dead_letters.c.stage, dead_letters.c.routing_ids, dead_letters.c.reason))]
        team_total = connection.execute(sa.select(sa.func.coalesce(sa.func.sum(team_states.c.decisions), 0))).scalar()
        booking_rows = [row._asdict() for row in connection.execute(sa.select(
            bookings.c.id, bookings.c.status, bookings.c.record_id, bookings.c.host_id, bookings.c.co_host_ids,
            bookings.c.request, bookings.c.calendar_event_id, bookings.c.calendar_host_id, bookings.c.error))]
        reserved = {(row.booking_id, row.host_id) for row in connection.execute(
            sa.select(reservations.c.booking_id, reservations.c.host_id))}
        writes: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in connection.execute(sa.select(outbox.c.record_id, outbox.c.sequence, outbox.c.routing_id,
                                                outbox.c.owner_id, outbox.c.status, outbox.c.last_error,
                                                outbox.c.superseded_by, outbox.c.sent_at).order_by(outbox.c.id)):
            writes[row.record_id].append(tuple(row)[1:])
    by_record: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in decided:
        by_record[row["record_id"]].append(row)
    return StoreView(
        decisions={row["routing_id"]: row for row in decided if row["routing_id"] in wanted},
        decisions_by_record=dict(by_record), latest_owner=states, owner_writes=dict(writes), held=held & wanted,
        fact_writes=dict(fact_writes), latest_routing={row.record_id: row.routing_id for row in state_rows},
        dead_letters=letters,
        team_decisions=int(team_total or 0), bookings=booking_rows, reservations=reserved,
    )


def reconcile(engine: sa.Engine, org: FakeOrg, calendar: FakeGoogleCalendar, events: Sequence[RecordEvent],
              requests: Sequence[dict[str, Any]], dead_letter_queue_depth: int = 0) -> Reconciliation:
    """Compares the store, the fake org and the fake calendar after a run of ``events`` and booking ``requests``."""
    store = read_store(engine, (event.routing_id for event in events))
    result = Reconciliation(events=len(events), requests=len(requests), bookings=len(store.bookings))
    _check_final_states(result, store, events)
    routed = {event.record_id for event in events} | {r["record_id"] for r in requests}
    _check_owners(result, store, org, routed)
    _check_facts(result, store, org, routed)
    _check_bookings(result, store, org, calendar, requests)
    if dead_letter_queue_depth:
        result.add(DEAD_LETTER_QUEUED, "dead-letter queues", f"{dead_letter_queue_depth} message(s)")
    return result


def _check_final_states(result: Reconciliation, store: StoreView, events: Sequence[RecordEvent]) -> None:
    lettered: Counter[str] = Counter()
    for letter in store.dead_letters:
        if not (letter["reason"] or "").strip():
            result.add(DEAD_LETTER_WITHOUT_REASON, letter["stage"], str(letter["routing_ids"])[:200])
        for routing_id in letter["routing_ids"] or []:
            lettered[routing_id] += 1
        result.add(DEAD_LETTERED, letter["stage"], (letter["reason"] or "")[:300])
    assigned_with_team = 0
    for event in events:
        decision = store.decisions.get(event.routing_id)
        states = [name for name, reached in (("decided", decision is not None and decision["outcome"] != "held"),
                                             ("held", event.routing_id in store.held),
                                             ("dead-lettered", lettered[event.routing_id] > 0)) if reached]
        states += ["dead-lettered again"] * max(0, lettered[event.routing_id] - 1)
        if not states:
            result.add(NO_FINAL_STATE, event.routing_id, f"record {event.record_id}")
        elif len(states) > 1:
            result.add(SEVERAL_FINAL_STATES, event.routing_id, ", ".join(states))
        result.decided += "decided" in states
        result.held += "held" in states
        if decision is not None and decision["outcome"] == "assigned" and decision["team"]:
            assigned_with_team += 1
    if store.team_decisions > assigned_with_team:
        result.add(COUNTER_BUMPED_TWICE, "team_states",
                   f"{store.team_decisions} counted for {assigned_with_team} team assignments")
    elif store.team_decisions < assigned_with_team:
        result.add(COUNTER_MISSED, "team_states",
                   f"{store.team_decisions} counted for {assigned_with_team} team assignments")


def _check_owners(result: Reconciliation, store: StoreView, org: FakeOrg, record_ids: set[str]) -> None:
    result.records = len(record_ids)
    for record_id in sorted(record_ids):
        latest = store.latest_owner.get(record_id)
        written = org.owners.get(record_id)
        if latest is None:
            if written is not None:
                result.add(OWNER_WITHOUT_DECISION, record_id, f"Salesforce has {written}")
            continue
        if written == latest:
            result.owners_matching += 1
        elif written is None:
            result.add(OWNER_NOT_WRITTEN, record_id, f"decided {latest}")
        elif written in {row["owner_id"] for row in store.decisions_by_record.get(record_id, [])}:
            result.add(OLDER_OWNER_WON, record_id, f"Salesforce has {written}, Baton's latest decision is {latest}; "
                       f"owners written in order {org.owner_history.get(record_id)}; outbox rows "
                       f"{store.owner_writes.get(record_id)}; decisions {store.decisions_by_record.get(record_id)}")
        else:
            result.add(WRONG_OWNER, record_id, f"Salesforce has {written}, Baton's latest decision is {latest}")


def _check_facts(result: Reconciliation, store: StoreView, org: FakeOrg, record_ids: set[str]) -> None:
    """For a record whose writes carry routing facts (its object is mapped): the fields the org holds are the
    final decision's, or when that decision carries none (a booking's owner), the newest facts sent."""
    for record_id in sorted(record_ids):
        rows = store.fact_writes.get(record_id)
        if not rows:
            continue
        final = next((row for row in rows if row["routing_id"] == store.latest_routing.get(record_id)), None)
        expected = final or next((row for row in reversed(rows) if row["status"] == "sent"), None)
        if expected is None:
            continue
        held = org.field_values.get(record_id)
        if held == expected["fields"]:
            continue
        detail = (f"Salesforce has {held}; the final decision {expected['routing_id']} wrote {expected['fields']}; "
                  f"rows with facts {[(row['sequence'], row['routing_id'], row['status']) for row in rows]}")
        result.add(FACTS_NOT_WRITTEN if held is None else OLDER_FACTS_WON, record_id, detail)


def _check_bookings(result: Reconciliation, store: StoreView, org: FakeOrg, calendar: FakeGoogleCalendar,
                    requests: Sequence[dict[str, Any]]) -> None:
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for booking in store.bookings:
        by_request[(booking["request"] or {}).get("request_id", "")].append(booking)
    for request in requests:
        made = by_request.get(request["request_id"], [])
        if not made:
            result.add(REQUEST_WITHOUT_BOOKING, request["request_id"], f"record {request['record_id']}")
        elif len(made) > 1:
            result.add(REQUEST_WITH_SEVERAL_BOOKINGS, request["request_id"], ", ".join(b["id"] for b in made))
    confirmed = [b for b in store.bookings if b["status"] == BookingStatus.CONFIRMED.value]
    result.bookings_confirmed = len(confirmed)
    for booking in store.bookings:
        if booking["status"] != BookingStatus.CONFIRMED.value:
            result.add(BOOKING_NOT_CONFIRMED, booking["id"], f"{booking['status']}: {(booking['error'] or '')[:200]}")
    live = Counter(event["id"] for events in calendar.events.values() for event in events.values()
                   if event["status"] != "cancelled")
    confirmed_event_ids = {b["calendar_event_id"] for b in confirmed if b["calendar_event_id"]}
    for booking in confirmed:
        copies = live.get(booking["calendar_event_id"] or "", 0)
        if copies == 0:
            result.add(EVENT_MISSING, booking["id"], f"event id {booking['calendar_event_id']}")
        elif copies > 1:
            result.add(EVENT_DOUBLED, booking["id"], f"{copies} live copies of {booking['calendar_event_id']}")
        if booking["id"] not in org.events.records:
            result.add(SALESFORCE_EVENT_MISSING, booking["id"])
    for event_id, copies in live.items():
        if event_id not in confirmed_event_ids:
            result.add(ORPHAN_EVENT, event_id, f"{copies} live")
    for external_id in org.events.records:
        if external_id not in {b["id"] for b in confirmed}:
            result.add(ORPHAN_SALESFORCE_EVENT, external_id)
    wanted = {(b["id"], host) for b in confirmed for host in [b["host_id"], *(b["co_host_ids"] or [])]}
    for booking_id, host in sorted(wanted - store.reservations):
        result.add(RESERVATION_MISSING, booking_id, f"host {host}")
    for booking_id, host in sorted(store.reservations - wanted):
        result.add(ORPHAN_RESERVATION, booking_id, f"host {host}")
