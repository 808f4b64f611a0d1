"""The assign stage's writes as one PostgreSQL statement, so the team's row lock is held for one round trip.

After the team row is locked, the new team state, the assignment logs, the record states and the
outbox rows go to PostgreSQL together: data-modifying CTEs over ``jsonb_populate_recordset``, one
statement text whatever the number of rows (so it is parsed once per connection). Other databases
write the same rows statement by statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from psycopg.types.json import Jsonb

from adapters.store.json_values import encode_rows
from adapters.store.row_values import rows_values
from adapters.store.tables import assignments, outbox, record_states
from kernel.ports.decisions import DecisionRows, RecordKey, RecordStateUpdate

PENDING = {"status": "pending", "attempts": 0}  # how every owner write enters the outbox


def _columns(table: sa.Table, skip: Sequence[str] = ()) -> str:
    return ", ".join(column.name for column in table.columns if column.name not in skip)


def _from_json(table: sa.Table, parameter: str, skip: Sequence[str] = ()) -> str:
    return f"SELECT {_columns(table, skip)} FROM jsonb_populate_recordset(NULL::{table.name}, %({parameter})s)"


DECISION_STATEMENT = f"""
WITH new_assignments AS (
    INSERT INTO assignments ({_columns(assignments)}) {_from_json(assignments, "assignments")}
), new_record_states AS (
    INSERT INTO record_states ({_columns(record_states)}) {_from_json(record_states, "record_states")}
    ON CONFLICT (object_type, record_id) DO UPDATE SET
        last_event_at = excluded.last_event_at, routing_id = excluded.routing_id,
        owner_id = excluded.owner_id, updated_at = excluded.updated_at
    WHERE record_states.last_event_at <= excluded.last_event_at
), new_outbox AS (
    INSERT INTO outbox ({_columns(outbox, ["id"])}) {_from_json(outbox, "outbox", ["id"])}
    ON CONFLICT DO NOTHING
)
UPDATE team_states SET state = changed.state, decisions = team_states.decisions + changed.decisions,
    updated_at = changed.updated_at
FROM jsonb_populate_recordset(NULL::team_states, %(team_states)s) AS changed
WHERE team_states.team = changed.team
"""


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: object) -> str:
    return json.dumps(value, default=_iso, separators=(",", ":"))


def newest_per_record(rows: Sequence[RecordStateUpdate]) -> list[RecordStateUpdate]:
    """One record-state row per record (the newest event wins), as a single upsert may touch a row once."""
    newest: dict[RecordKey, RecordStateUpdate] = {}
    for row in rows:
        key = (row.object_type, row.record_id)
        if key not in newest or newest[key].last_event_at <= row.last_event_at:
            newest[key] = row
    return list(newest.values())


def _dumps_rows(rows: object) -> str:
    assert isinstance(rows, list)
    return encode_rows(rows, _dumps)


def write_decisions_postgresql(connection: sa.Connection, rows: DecisionRows) -> None:
    parameters = {
        "team_states": Jsonb(rows_values(rows.team_states), dumps=_dumps),
        "assignments": Jsonb(rows_values(rows.assignments), dumps=_dumps_rows),
        "record_states": Jsonb(rows_values(newest_per_record(rows.record_states)), dumps=_dumps),
        "outbox": Jsonb(rows_values(rows.owner_writes, **PENDING), dumps=_dumps),
    }
    connection.exec_driver_sql(DECISION_STATEMENT, parameters)
