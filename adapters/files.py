"""Record files for ``baton route``: JSONL (object, id, fields, event_id) and CSV (an Id column)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from messages import RecordEvent, Source

EVENT_TIME_FIELDS = ("SystemModstamp", "LastModifiedDate")
JSONL_KEYS = {"object", "id", "fields", "event_id", "change_type"}


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def _event_time(fields: dict[str, Any]) -> tuple[str | None, datetime | None]:
    for name in EVENT_TIME_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            text = value.replace("Z", "+00:00")
            if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
                text = text[:-2] + ":" + text[-2:]
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"fields.{name}: not a date-time: {value!r}") from None
            return value, parsed if parsed.tzinfo else None
    return None, None


def _first_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"]) or "(record)"
        problems.append(f"{location}: {err['msg']}")
    return "; ".join(problems)


def build_event(
    object_type: Any, record_id: Any, fields: Any, event_id: Any, received_at: datetime, change_type: Any = "create"
) -> RecordEvent:
    if not isinstance(fields, dict):
        raise ValueError("fields: must be an object of field names to values")
    stamp, commit_timestamp = _event_time(fields)
    if event_id is None:
        event_id = f"{record_id}:{stamp or ''}"
    try:
        return RecordEvent(
            object_type=object_type,
            record_id=record_id,
            fields=fields,
            change_type=change_type,
            source=Source.FILE,
            source_event_id=str(event_id),
            commit_timestamp=commit_timestamp,
            received_at=received_at,
        )
    except ValidationError as exc:
        names = {"object_type": "object", "record_id": "id", "source_event_id": "event_id"}
        message = _first_error(exc)
        for internal, public in names.items():
            message = message.replace(internal, public)
        raise ValueError(message) from None


def read_jsonl(path: Path, received_at: datetime) -> Iterator[RecordEvent | Rejected]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Rejected(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(item, dict):
                yield Rejected(number, "expected a JSON object")
                continue
            unknown = sorted(set(item) - JSONL_KEYS)
            missing = [key for key in ("object", "id") if key not in item]
            if unknown or missing:
                parts = [f"unknown key {key!r}" for key in unknown] + [f"missing key {key!r}" for key in missing]
                yield Rejected(number, "; ".join(parts))
                continue
            try:
                yield build_event(
                    item["object"], item["id"], item.get("fields", {}), item.get("event_id"), received_at,
                    item.get("change_type", "create"),
                )
            except ValueError as exc:
                yield Rejected(number, str(exc))


def read_csv(path: Path, object_type: str, received_at: datetime) -> Iterator[RecordEvent | Rejected]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "Id" not in reader.fieldnames:
            yield Rejected(1, "the header has no 'Id' column")
            return
        for row in reader:
            number = reader.line_num
            if None in row:
                yield Rejected(number, f"{len(row[None])} more value(s) than header columns")  # type: ignore[index]
                continue
            fields = {key: value for key, value in row.items() if key != "Id" and value not in (None, "")}
            try:
                yield build_event(object_type, row["Id"], fields, None, received_at)
            except ValueError as exc:
                yield Rejected(number, str(exc))


def read_records(path: Path, object_type: str | None, received_at: datetime) -> Iterator[RecordEvent | Rejected]:
    if path.suffix.lower() == ".csv":
        if not object_type:
            raise ValueError("a CSV file needs --object (e.g. --object Lead)")
        return read_csv(path, object_type, received_at)
    return read_jsonl(path, received_at)
