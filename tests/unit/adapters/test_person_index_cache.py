"""The person index follows lead and contact writes row by row and finds what a full rebuild would find."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.person_index_cache import IncrementalPersonIndex
from adapters.salesforce.reference_records import SyncOptions
from adapters.store import Store
from adapters.synced_reference import person_record
from kernel.ports.reference_sync import SyncPosition
from routing.matching import PersonIndex
from tests.unit.baton.assignment.reassign.test_run import store  # noqa: F401 - a fresh SQLite store per test

SYNCED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def lead(number: int, **fields: str) -> dict[str, str]:
    return {"Id": f"00Q{number:012d}AAA", "FirstName": "Ada", "LastName": f"Lovelace {number}",
            "Company": f"Company {number}", "Email": f"ada{number}@example.org", "Status": "Open",
            "OwnerId": "005000000000001AAA", **fields}


def write(target: Store, records: list[dict[str, str]], at: datetime, *, sync_round: bool = False) -> None:
    rows = [SyncOptions().row("Lead", record["Id"], record, at, at) for record in records]
    with target.reference_sync.writes() as tx:
        tx.upsert_synced("Lead", rows, newer_only=False)
        if sync_round:
            tx.save_sync_position(SyncPosition("Lead", at), at)


def duplicate_of(index: PersonIndex | None, **fields: str) -> str | None:
    assert index is not None
    found = index.find_duplicate({"Id": "00Q999999999999AAA", "LastName": "Someone", **fields})
    return found.record_id if found else None


def test_lead_writes_update_the_index_in_place_and_match_a_full_rebuild(store: Store) -> None:  # noqa: F811
    write(store, [lead(n) for n in range(1, 6)], SYNCED_AT, sync_round=True)
    people = IncrementalPersonIndex(store.reference_sync, person_record)
    assert duplicate_of(people.get(), Email="ada2@example.org") == lead(2)["Id"]

    later = SYNCED_AT + timedelta(minutes=5)
    write(store, [lead(2, Email="grace@example.org"), lead(3, Status="Closed - Converted", IsConverted="true"),
                  lead(6, Email="new@example.org")], later)
    index = people.get()

    assert (people.full_builds, people.updates) == (1, 1)
    assert duplicate_of(index, Email="ada2@example.org") is None  # its old email no longer matches
    assert duplicate_of(index, Email="grace@example.org") == lead(2)["Id"]
    assert duplicate_of(index, Email="ada3@example.org") is None  # converted: gone from the open leads
    assert duplicate_of(index, Email="new@example.org") == lead(6)["Id"]
    rebuilt = IncrementalPersonIndex(store.reference_sync, person_record).get()
    for email in ("ada1@example.org", "ada2@example.org", "grace@example.org", "ada3@example.org", "new@example.org"):
        assert duplicate_of(index, Email=email) == duplicate_of(rebuilt, Email=email)


def test_a_sync_round_rebuilds_the_whole_index(store: Store) -> None:  # noqa: F811
    write(store, [lead(1)], SYNCED_AT, sync_round=True)
    people = IncrementalPersonIndex(store.reference_sync, person_record)
    people.get()
    write(store, [lead(2)], SYNCED_AT + timedelta(minutes=1), sync_round=True)

    assert duplicate_of(people.get(), Email="ada2@example.org") == lead(2)["Id"]
    assert people.full_builds == 2 and people.updates == 0
