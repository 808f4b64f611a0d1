"""Record events as the edge would build them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from messages import RecordEvent, Source

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def lead_event(number: int, *, source: Source = Source.API, event_id: str | None = None,
               at: datetime | None = None, **fields: object) -> RecordEvent:
    record_id = f"00Q{number:012d}AAA"
    return RecordEvent(
        object_type="Lead",
        record_id=record_id,
        fields={"LastName": f"Lead {number}", "Company": f"Company {number}", **fields},
        source=source,
        source_event_id=event_id or f"{record_id}:evt",
        commit_timestamp=at or BASE_TIME + timedelta(seconds=number),
        received_at=BASE_TIME + timedelta(seconds=number, milliseconds=5),
    )
