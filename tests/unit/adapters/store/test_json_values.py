"""Decision logs stored as pydantic encodes them: the same JSON as the dict form, on SQLite and PostgreSQL rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from adapters.store.json_values import encode_json, encode_rows
from messages import AssignmentLog, Outcome, StageTrace

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _log() -> AssignmentLog:
    return AssignmentLog(routing_id="r-1", record_id="00Q000000000001AAA", object_type="Lead", outcome=Outcome.ASSIGNED,
                         owner_id="005000000000001AAA", source="batch", source_event_id="job-1:00Q000000000001AAA",
                         event_at=NOW, enqueued_at=NOW, decided_at=NOW, reasons=["default team 'Inbound'"],
                         trace=[StageTrace(stage="classify", reasons=["config v1"], duration_ms=0.5)])


def test_a_model_column_value_is_the_json_of_its_dict_form() -> None:
    log = _log()
    assert json.loads(encode_json(log)) == log.model_dump(mode="json")
    assert json.loads(encode_json({"a": [1, None]})) == {"a": [1, None]}


def test_rows_with_a_model_value_encode_as_the_rows_with_its_dict_form() -> None:
    log = _log()
    rows = [{"routing_id": "r-1", "log": log, "config_version": 3}, {"log": log}, {"routing_id": "r-2"}]
    expected = [{"routing_id": "r-1", "log": log.model_dump(mode="json"), "config_version": 3},
                {"log": log.model_dump(mode="json")}, {"routing_id": "r-2"}]
    assert json.loads(encode_rows(rows, json.dumps)) == expected
    assert AssignmentLog.model_validate(json.loads(encode_rows(rows, json.dumps))[0]["log"]) == log
