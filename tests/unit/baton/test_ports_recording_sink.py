"""The embedded default's in-memory log sink keeps the latest logs only, so a long job does not grow memory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from baton.bootstrap import EMBEDDED_LOGS_KEPT, log_sink
from baton.ports import RecordingSink
from baton.settings import Settings
from messages import AssignmentLog, Outcome

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _log(number: int) -> AssignmentLog:
    return AssignmentLog(routing_id=f"r-{number}", record_id=f"00Q{number:012d}AAA", object_type="Lead",
                         outcome=Outcome.ASSIGNED, source="batch", source_event_id=f"e-{number}", event_at=NOW,
                         enqueued_at=NOW, decided_at=NOW)


def test_a_bounded_sink_keeps_the_latest_logs_in_order() -> None:
    sink = RecordingSink(keep=3)
    for number in range(20):
        sink.publish([_log(number)])
    ids = [log.routing_id for log in sink.published]
    assert 3 <= len(ids) <= 6
    assert ids == [f"r-{number}" for number in range(20 - len(ids), 20)]


def test_the_embedded_default_sink_is_bounded(tmp_path: Path) -> None:
    settings = Settings(broker_url="", database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}")  # type: ignore[call-arg]
    sink = log_sink(settings)
    assert isinstance(sink, RecordingSink)
    sink.publish([_log(number) for number in range(2 * EMBEDDED_LOGS_KEPT + 1)])
    assert len(sink.published) == EMBEDDED_LOGS_KEPT
    assert sink.published[-1].routing_id == f"r-{2 * EMBEDDED_LOGS_KEPT}"
