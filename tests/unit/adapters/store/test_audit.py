"""The admin audit repository, on SQLite and on PostgreSQL (``store``, tests/unit/adapters/conftest.py): entries
read back as recorded (JSON before and after, UTC times), newest first, by member, and each member's newest
entry before a time (what ``baton why`` shows for a skipped member)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.store import Store
from kernel.ports.audit import Actor, AuditEntry

AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
OPS = Actor("tok_1", "ops console")


def entry(minutes: int, member: str, action: str = "set_unavailable", **fields: object) -> AuditEntry:
    return AuditEntry(AT + timedelta(minutes=minutes), OPS, action, member, **fields)  # type: ignore[arg-type]


def test_entries_read_back_as_recorded_newest_first_and_by_member(store: Store) -> None:
    first = store.audit.record(entry(0, "005A", reason="logged out", before={"available": True},
                                     after={"available": False}))
    store.audit.record(entry(1, "005B", "change_member", team="Inbound", before={"weight": None},
                             after={"weight": 2, "caps": {"per_day": 3}}, config_version=7))
    store.audit.record(AuditEntry(AT.astimezone(timezone(timedelta(hours=2))) + timedelta(minutes=2), Actor("cli", "ana"),
                                  "set_available", "005A"))

    everything = store.audit.entries()
    assert [(item.member_id, item.action) for item in everything] == [
        ("005A", "set_available"), ("005B", "change_member"), ("005A", "set_unavailable")]
    assert everything[0].at == AT + timedelta(minutes=2) and everything[0].at.tzinfo == UTC
    assert everything[-1] == first and first.id is not None
    assert everything[1].after == {"weight": 2, "caps": {"per_day": 3}} and everything[1].config_version == 7
    assert [item.action for item in store.audit.entries("005A", limit=1)] == ["set_available"]
    assert store.audit.entries("005C") == []


def test_latest_before_gives_each_members_newest_entry_at_or_before_the_time(store: Store) -> None:
    store.audit.record(entry(0, "005A", "set_unavailable"))
    store.audit.record(entry(5, "005A", "set_available"))
    store.audit.record(entry(1, "005B", "set_tags"))

    found = store.audit.latest_before(["005A", "005B", "005C"], AT + timedelta(minutes=4))

    assert {member: item.action for member, item in found.items()} == {"005A": "set_unavailable", "005B": "set_tags"}
