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
from adapters.store.tables import assignments, record_states
from kernel.ports.decisions import DecisionRows, RecordKey, RecordStateUpdate


def _columns(table: sa.Table, skip: Sequence[str] = ()) -> str:
    return ", ".join(column.name for column in table.columns if column.name not in skip)


def _from_json(table: sa.Table, parameter: str, skip: Sequence[str] = ()) -> str:
    return f"SELECT {_columns(table, skip)} FROM jsonb_populate_recordset(NULL::{table.name}, %({parameter})s)"


# An owner write enters the outbox pending, numbered after its record's last write, unless its decision is not
# the record's newest: its record state was not written (an older event of the same round, or a newer event
# committed first by a concurrent round), so it is stored superseded and never sent (adapters/store/outbox.py
# does the same statement by statement).
DECISION_STATEMENT = f"""
WITH new_assignments AS (
    INSERT INTO assignments ({_columns(assignments)}) {_from_json(assignments, "assignments")}
), new_record_states AS (
    INSERT INTO record_states ({_columns(record_states)}) {_from_json(record_states, "record_states")}
    ON CONFLICT (object_type, record_id) DO UPDATE SET
        last_event_at = excluded.last_event_at, routing_id = excluded.routing_id,
        owner_id = excluded.owner_id, updated_at = excluded.updated_at
    WHERE record_states.last_event_at <= excluded.last_event_at
    RETURNING object_type, record_id, routing_id
), new_outbox AS (
    INSERT INTO outbox (routing_id, object_type, record_id, owner_id, status, attempts, created_at, channel,
                        sequence, version, superseded_by, fields)
    SELECT queued.routing_id, queued.object_type, queued.record_id, queued.owner_id,
        CASE WHEN won.routing_id IS NULL THEN 'superseded' ELSE 'pending' END, 0, queued.created_at, queued.channel,
        COALESCE((SELECT max(earlier.sequence) FROM outbox AS earlier
                  WHERE earlier.object_type = queued.object_type AND earlier.record_id = queued.record_id), 0)
            + row_number() OVER (PARTITION BY queued.object_type, queued.record_id ORDER BY queued.ordinality),
        0, CASE WHEN won.routing_id IS NULL THEN COALESCE(newest.routing_id, stored.routing_id) END, queued.fields
    FROM jsonb_populate_recordset(NULL::outbox, %(outbox)s) WITH ORDINALITY AS queued
    LEFT JOIN new_record_states AS won ON won.routing_id = queued.routing_id
    LEFT JOIN new_record_states AS newest
        ON newest.object_type = queued.object_type AND newest.record_id = queued.record_id
    LEFT JOIN record_states AS stored
        ON stored.object_type = queued.object_type AND stored.record_id = queued.record_id
    ON CONFLICT (routing_id) DO NOTHING
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
        "outbox": Jsonb(rows_values(rows.owner_writes), dumps=_dumps),
    }
    connection.exec_driver_sql(DECISION_STATEMENT, parameters)
