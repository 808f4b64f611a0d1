"""The describes repository, on SQLite and on PostgreSQL (``store``, tests/unit/adapters/conftest.py): an object's describe saved by
``baton sync`` reads back as it was saved, a later save replaces it, and times stay UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.store import Store
from kernel.ports.describes import FieldDescribe, ObjectDescribe

FETCHED = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def lead_describe(fetched_at: datetime, *extra: FieldDescribe) -> ObjectDescribe:
    fields = (
        FieldDescribe("Id", "id", updateable=False, length=18),
        FieldDescribe("Baton_Team__c", "string", updateable=True, length=255),
        FieldDescribe("Baton_Matched_Account__c", "reference", updateable=True, length=18, reference_to=("Account",)),
        FieldDescribe("Region__c", "picklist", updateable=True, length=255, picklist_values=("EMEA", "AMER"),
                      restricted_picklist=True),
        FieldDescribe("Routing_Summary__c", "string", updateable=False, length=1300, calculated=True),
        *extra,
    )
    return ObjectDescribe("Lead", {item.name: item for item in fields}, fetched_at,
                          tuple(item.name for item in fields))


def test_a_saved_describe_reads_back_field_for_field(store: Store) -> None:
    saved = lead_describe(FETCHED)
    store.describes.save(saved)

    found = store.describes.get("Lead")
    assert found is not None
    assert dict(found.fields) == dict(saved.fields)
    assert (found.object_type, tuple(found.queryable_fields), found.fetched_at) == (
        "Lead", saved.queryable_fields, FETCHED)
    assert found.field("baton_team__c") == saved.fields["Baton_Team__c"]  # API names are case-insensitive
    assert store.describes.get("Case") is None


def test_a_second_save_replaces_the_describe_and_its_fetch_time(store: Store) -> None:
    store.describes.save(lead_describe(FETCHED, FieldDescribe("Old__c", "string", True)))
    later = datetime(2026, 12, 6, 11, 30, tzinfo=timezone(timedelta(hours=2)))  # 09:30 UTC + 5 minutes below
    store.describes.save(lead_describe(later + timedelta(minutes=5), FieldDescribe("New__c", "boolean", True)))

    found = store.describes.all()
    assert list(found) == ["Lead"]
    assert found["Lead"].fetched_at == FETCHED + timedelta(minutes=5)
    assert found["Lead"].fetched_at.tzinfo == UTC
    assert found["Lead"].field("Old__c") is None and found["Lead"].fields["New__c"].type == "boolean"
