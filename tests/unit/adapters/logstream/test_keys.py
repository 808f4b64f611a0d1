"""Log stream routing keys and the keys a follower binds for its filters; --since values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.logstream import StreamEntry, assignment_entries, binding_keys, routing_key
from baton.since import parse_since, start_of_day
from kernel.errors import InputError
from messages import AssignmentLog, Outcome

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def test_routing_key_folds_dots_spaces_and_wildcards_in_team_names() -> None:
    assert routing_key("assignment", "Lead", "EMEA North.America", "held") == "assignment.Lead.EMEA_North_America.held"
    assert routing_key("assignment", "Lead", "Sales*#", "assigned") == "assignment.Lead.Sales_.assigned"


def test_a_record_routed_to_no_team_has_team_none_in_its_key() -> None:
    assert routing_key("assignment", "Case", None, "assigned") == "assignment.Case.none.assigned"


def test_no_filter_binds_everything() -> None:
    assert binding_keys() == ["*.*.*.*"]


def test_filters_bind_one_key_per_combination_with_wildcards_elsewhere() -> None:
    keys = binding_keys(objects=["Lead"], teams=["EMEA North", "Inbound"], outcomes=["held"])
    assert keys == ["*.Lead.EMEA_North.held", "*.Lead.Inbound.held"]
    assert binding_keys(kinds=["booking"], outcomes=["failed", "held"]) == ["booking.*.*.failed", "booking.*.*.held"]


def test_assignment_entries_carry_kind_key_and_the_whole_log() -> None:
    log = AssignmentLog(routing_id="r1", record_id="00Q000000000001AAA", object_type="Lead",
                        outcome=Outcome.ASSIGNED, owner_id="005000000000001AAA", team="Inbound Team", source="api",
                        source_event_id="e1", event_at=NOW, decided_at=NOW)
    [entry] = assignment_entries([log])
    assert entry.routing_key == "assignment.Lead.Inbound_Team.assigned"
    assert entry.body["kind"] == "assignment"
    assert AssignmentLog.model_validate({k: v for k, v in entry.body.items() if k != "kind"}) == log


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW - timedelta(minutes=30)),
    ("1h", NOW - timedelta(hours=1)),
    ("2d", NOW - timedelta(days=2)),
    ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
    ("2026-11-20T09:00:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
])
def test_since_takes_spans_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_since_names_the_bad_value() -> None:
    with pytest.raises(InputError, match="--since '1 fortnight'"):
        parse_since("1 fortnight", NOW)


def test_today_starts_at_midnight_utc() -> None:
    assert start_of_day(NOW) == datetime(2026, 11, 23, tzinfo=UTC)


def test_a_booking_entry_is_keyed_by_its_own_kind() -> None:
    entry = StreamEntry("booking", "Event", "Sales Team", "failed", {"kind": "booking"})
    assert entry.routing_key == "booking.Event.Sales_Team.failed"
