"""Upgrading a store that Baton made at 3a76d03 (before issue 19), with data in it, to today's migrations.

The old store is built by 3a76d03's own Alembic migrations (its ``adapters/store/migrations``, taken from git into a
temporary directory), on PostgreSQL (a fresh schema) and on a SQLite file, and filled with plain SQL the way the old
code wrote its rows: decisions and record states, outbox rows pending, sent and failed, dead letters, holds, SLA
timers, the synced copy, bookings in several states with their reservations, tokens. Then today's
``upgrade_schema`` runs, and the checks are:

- every table and column of today's ``adapters/store/tables.py`` exists, and no other;
- every old row is still there with the values it had, read through today's tables;
- today's repositories read the old rows (the outbox's due rows, bookings, decisions, holds, a record's trace, ...);
- every column added since 3a76d03 holds a sensible value in the old rows (``NEW_COLUMN_VALUES``, or a rule for
  its name: ``version``, ``sequence``): a new column without one fails until it is said what old rows hold;
- the upgraded store takes new writes, and a second upgrade changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.engine import MIGRATIONS_DIR
from adapters.store.tables import metadata
from adapters.store.tokens import TOKEN_PREFIX, token_digest
from kernel.clock import utc_now
from kernel.ports.bookings import Hold, NewBooking
from kernel.ports.decisions import (
    Assignment,
    DecisionRows,
    OwnerWrite,
    RecordState,
    RecordStateUpdate,
    TeamStateUpdate,
)
from kernel.ports.operations import NewDeadLetter
from messages import AssignmentLog
from messages.booking import FINAL_STATUSES
from routing.config import load_config_text
from tests.support.configs import team_config

pytestmark = pytest.mark.integration
OLD_COMMIT = "3a76d03"
OLD_HEAD = "0013_meeting_counts"
REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

NOW = utc_now().replace(microsecond=0)
T0 = NOW - timedelta(days=2)
REP_A, REP_B, REP_C, REP_D, QUEUE = (*(f"00500000000000{n}AAA" for n in range(1, 5)), "00G000000000001AAA")
LEAD_1, LEAD_2, LEAD_3, LEAD_4, LEAD_5 = (f"00Q00000000000{n}AAA" for n in range(1, 6))
TOKEN_ID = "0123456789ab"
TOKEN = f"{TOKEN_PREFIX}{TOKEN_ID}_old-secret-issued-before-the-upgrade"
CONFIG = team_config(members=3)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# what the old code wrote ------------------------------------------------------------------------------------
def assignment_log(routing_id: str, record_id: str, outcome: str, owner_id: str | None, decided: datetime,
                   method: str | None = "round_robin") -> dict[str, Any]:
    """An assignment log as 3a76d03's writeback stored it (``AssignmentLog.model_dump(mode="json")``)."""
    return {
        "schema_version": 1, "routing_id": routing_id, "record_id": record_id, "object_type": "Lead",
        "outcome": outcome, "owner_id": owner_id, "previous_owner_id": QUEUE, "team": "Inbound",
        "territory": {"name": "North America", "team": "Inbound", "reasons": ["country US"]}, "match": None,
        "method": method, "reasons": ["routed: record created", f"{outcome} by {method}"], "skipped": [],
        "skip_summary": {}, "path": [{"node": "start", "outcome": "routed", "reason": "routed: record created"}],
        "booking_suggestion": None, "tags": [], "config_version": 1, "source": "file",
        "source_event_id": f"{record_id}:{(decided - timedelta(minutes=1)).isoformat()}",
        "event_at": (decided - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "enqueued_at": (decided - timedelta(seconds=2)).isoformat().replace("+00:00", "Z"),
        "decided_at": decided.isoformat().replace("+00:00", "Z"), "stamps": {"Segment__c": "Commercial"},
        "trace": [{"stage": "classify", "reasons": ["config v1"], "duration_ms": 0.4}],
    }


def decision_row(routing_id: str, record_id: str, outcome: str, owner_id: str | None, decided: datetime,
                 method: str | None = "round_robin") -> dict[str, Any]:
    return {"routing_id": routing_id, "record_id": record_id, "object_type": "Lead", "outcome": outcome,
            "owner_id": owner_id, "team": "Inbound", "method": method, "config_version": 1,
            "log": assignment_log(routing_id, record_id, outcome, owner_id, decided, method),
            "event_at": decided - timedelta(minutes=1), "decided_at": decided}


def booking_row(booking_id: str, status: str, host: str, created: datetime, **values: Any) -> dict[str, Any]:
    """A booking, as stored, of a meeting three days after ``created``; ``values`` replace columns."""
    starts = created + timedelta(days=3)
    return {"id": booking_id, "status": status, "booking_type": "Discovery", "object_type": "Lead",
            "record_id": LEAD_1, "scheduler_user_id": REP_D, "host_id": host, "pool": "Inbound",
            "co_host_ids": [], "starts_at": starts, "ends_at": starts + timedelta(minutes=30),
            "guest_email": "guest@example.com", "invitees": ["guest@example.com"], "platform": "google_meet",
            "request": {"request_id": f"req-{booking_id}", "record_fields": {"Email": "guest@example.com"},
                        "config_version": 1},
            "calendar_event_id": None, "meet_link": None, "salesforce_event_id": None, "error": None,
            "created_at": created, "updated_at": created + timedelta(seconds=5), "calendar_host_id": None, **values}


def reservation(booking: dict[str, Any], host: str) -> dict[str, Any]:
    return {"booking_id": booking["id"], "host_id": host, "starts_at": booking["starts_at"],
            "ends_at": booking["ends_at"] + timedelta(minutes=10)}


BOOKINGS = [
    booking_row("b-reserved", "reserved", REP_A, at(20)),  # stopped before its chain was enqueued
    booking_row("b-calendar", "calendar_created", REP_B, at(21), calendar_event_id="evt-1", meet_link="https://meet",
                calendar_host_id=REP_B),
    booking_row("b-confirmed", "confirmed", REP_C, at(22), calendar_event_id="evt-2",
                salesforce_event_id="00U000000000001AAA", calendar_host_id=REP_C, co_host_ids=[REP_D], pool="EMEA"),
    booking_row("b-cancelled", "cancelled", REP_A, at(23), error="cancelled by the scheduler"),
    booking_row("b-failed", "failed", REP_B, at(24), error="calendar: 403 forbidden"),
]
BY_ID = {booking["id"]: booking for booking in BOOKINGS}

OLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "config_versions": [{"digest": hashlib.sha256(CONFIG.encode()).hexdigest(), "body": CONFIG, "applied_at": T0}],
    "team_states": [{"team": "Inbound", "state": {"method": "round_robin", "cursor": 2, "counts": {REP_A: 2}},
                     "decisions": 4, "updated_at": at(4)}],
    "assignments": [
        decision_row("r-lead1-old", LEAD_1, "assigned", REP_B, at(0)),
        decision_row("r-lead1", LEAD_1, "assigned", REP_A, at(1)),
        decision_row("r-lead2", LEAD_2, "assigned", REP_B, at(2)),
        decision_row("r-lead3", LEAD_3, "held", None, at(3)),
        decision_row("b-reserved", LEAD_4, "assigned", REP_C, at(4), method="booking"),
        decision_row("r-lead5", LEAD_5, "assigned", REP_A, at(5)),
    ],
    "record_states": [
        {"object_type": "Lead", "record_id": LEAD_1, "last_event_at": at(1) - timedelta(minutes=1),
         "routing_id": "r-lead1", "owner_id": REP_A, "updated_at": at(1)},
        {"object_type": "Lead", "record_id": LEAD_2, "last_event_at": at(2) - timedelta(minutes=1),
         "routing_id": "r-lead2", "owner_id": REP_B, "updated_at": at(2)},
        {"object_type": "Lead", "record_id": LEAD_3, "last_event_at": at(3) - timedelta(minutes=1),
         "routing_id": "r-lead3", "owner_id": QUEUE, "updated_at": at(3)},
        {"object_type": "Lead", "record_id": LEAD_4, "last_event_at": at(4), "routing_id": "b-reserved",
         "owner_id": REP_C, "updated_at": at(4)},
    ],
    "outbox": [  # in the order the old code queued them (ids in this order)
        {"routing_id": "r-lead1-old", "object_type": "Lead", "record_id": LEAD_1, "owner_id": REP_B, "status": "sent",
         "attempts": 3, "last_error": None, "created_at": at(0), "sent_at": at(1.5), "channel": "realtime",
         "next_attempt_at": None},  # retried after the newer decision's write: window 4 as it happened
        {"routing_id": "r-lead1", "object_type": "Lead", "record_id": LEAD_1, "owner_id": REP_A, "status": "sent",
         "attempts": 1, "last_error": None, "created_at": at(1), "sent_at": at(1), "channel": "realtime",
         "next_attempt_at": None},
        {"routing_id": "r-lead2", "object_type": "Lead", "record_id": LEAD_2, "owner_id": REP_B, "status": "failed",
         "attempts": 8, "last_error": "Salesforce answered 503 to the owner update: SERVER_UNAVAILABLE",
         "created_at": at(2), "sent_at": at(2.1), "channel": "realtime", "next_attempt_at": None},
        {"routing_id": "b-reserved", "object_type": "Lead", "record_id": LEAD_4, "owner_id": REP_C,
         "status": "pending", "attempts": 1, "last_error": "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access",
         "created_at": at(4), "sent_at": None, "channel": "realtime", "next_attempt_at": at(4.01)},
        {"routing_id": "r-lead5", "object_type": "Lead", "record_id": LEAD_5, "owner_id": REP_A, "status": "pending",
         "attempts": 0, "last_error": None, "created_at": at(5), "sent_at": None, "channel": "bulk",
         "next_attempt_at": None},
    ],
    "dead_letters": [
        {"message_id": "outbox-r-lead2", "queue_name": "outbox", "actor_name": "outbox", "stage": "outbox",
         "routing_ids": ["r-lead2"], "message": {"record_ids": [LEAD_2]},
         "reason": "Salesforce answered 503 to the owner update: SERVER_UNAVAILABLE", "failed_at": at(2.1),
         "replayed_at": None, "replay_count": 0},
        {"message_id": "6f0e2a52-6c1d-4c55-8d0f-6d3c9b1e2a10", "queue_name": "baton.assign", "actor_name": "assign",
         "stage": "assign", "routing_ids": ["r-gone"],
         "message": {"queue_name": "baton.assign", "actor_name": "assign", "args": [{"records": []}], "kwargs": {},
                     "options": {"retries": 3}, "message_id": "6f0e2a52-6c1d-4c55-8d0f-6d3c9b1e2a10",
                     "message_timestamp": 1700000000000},
         "reason": "PermanentError: no team 'Gone'", "failed_at": at(6), "replayed_at": at(7), "replay_count": 1},
    ],
    "member_status": [{"user_id": REP_C, "available": False, "changed_at": at(3)}],
    "holds": [{"routing_id": "r-lead3", "object_type": "Lead", "record_id": LEAD_3, "team": "Inbound",
               "reason": "nobody available", "context": {"event": {"record_id": LEAD_3}}, "held_at": at(3),
               "recheck_at": at(3.5), "checks": 2}],
    "sticky_owners": [{"team": "Inbound", "sticky_key": "account:001000000000001AAA", "owner_id": REP_A,
                       "assigned_at": at(1)}],
    "api_usage": [{"name": "api-usage", "used": 1200, "limit": 15000, "observed_at": at(5)}],
    "stream_positions": [{"channel": "/data/LeadChangeEvent", "replay_id": 4711, "event_at": at(5),
                          "updated_at": at(5)}],
    "sf_users": [{"id": REP_A, "name": "Rep 1", "email": "rep1@example.com", "is_active": True,
                  "time_zone": "Europe/Berlin", "calendar_email": "rep1@example.com", "system_modstamp": T0,
                  "removed_reason": None, "written_at": T0}],
    "sf_accounts": [{"id": "001000000000001AAA", "name": "Acme", "website": "acme.com", "domains": "acme.com",
                     "owner_id": REP_A, "last_activity_date": T0.date(), "number_of_employees": 120,
                     "annual_revenue": 1.5e6, "system_modstamp": T0, "removed_reason": None, "written_at": T0}],
    "sf_contacts": [{"id": "003000000000001AAA", "first_name": "Ada", "last_name": "Guest",
                     "email": "guest@acme.com", "owner_id": REP_A, "last_activity_date": None,
                     "account_id": "001000000000001AAA", "system_modstamp": T0, "removed_reason": None,
                     "written_at": T0}],
    "sf_leads": [{"id": LEAD_5, "first_name": "Old", "last_name": "Lead", "email": "old@example.com",
                  "owner_id": QUEUE, "last_activity_date": None, "company": "Old Co", "status": "Converted",
                  "system_modstamp": T0, "removed_reason": "converted", "written_at": T0}],
    "sync_positions": [{"object_type": "User", "last_modstamp": T0, "last_id": REP_A, "sweep_before": None,
                        "synced_at": at(1)}],
    "reassign_jobs": [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "source": "soql",
                       "query": "SELECT Id FROM Lead WHERE OwnerId = '00G000000000001AAA'", "object_type": "Lead",
                       "state": "done", "dry_run": False, "bulk_query_job_id": "750000000000001AAA",
                       "counts": {"read": 1, "routed": 1, "written": 1}, "error": None, "created_at": at(5),
                       "updated_at": at(5.5)}],
    "sla_timers": [{"routing_id": "r-lead1", "object_type": "Lead", "record_id": LEAD_1, "team": "Inbound",
                    "owner_id": REP_A, "assigned_at": at(1), "due_at": at(2), "state": "breached",
                    "closed_at": at(2)}],
    "bookings": BOOKINGS,
    "reservations": [reservation(BY_ID["b-reserved"], REP_A), reservation(BY_ID["b-calendar"], REP_B),
                     reservation(BY_ID["b-confirmed"], REP_C), reservation(BY_ID["b-confirmed"], REP_D)],
    "booking_group_hosts": [{"booking_id": "b-confirmed", "pool": "EMEA", "host_id": REP_D}],
    "pool_credits": [{"pool": "Inbound", "period": T0.strftime("%Y-%m"), "host_id": REP_A, "credit": 2,
                      "updated_at": at(20)}],
    "calendar_sync": [{"calendar": "rep1@example.com", "sync_token": "CPDAlvWDx70CEPDAlvWDx70CGAU=",
                       "updated_at": at(21)}],
    "api_tokens": [{"id": TOKEN_ID, "name": "handoff page", "digest": token_digest(TOKEN),
                    "scopes": ["bookings:write"], "scheduler_user_id": REP_D, "rate_per_minute": 60,
                    "created_at": T0, "expires_at": None, "revoked_at": None}],
    "rate_windows": [{"token_id": TOKEN_ID, "window_start": 29_000_000, "count": 3}],
}
NATURAL_KEYS = {"outbox": ("routing_id",), "dead_letters": ("message_id",), "config_versions": ("digest",)}  # ids
# the database gave


# what old rows hold in columns added since 3a76d03 -------------------------------------------------------------
RowCheck = Callable[[str, Sequence[Mapping[str, Any]]], None]


def versions(column: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A compare-and-set version: every old row starts at a whole number."""
    assert all(isinstance(row[column], int) and row[column] >= 0 for row in rows), [row[column] for row in rows]


def sequences(column: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A per-record sequence: a whole number on every old row, distinct within a record and growing in the order
    the rows were written (their id)."""
    assert all(isinstance(row[column], int) for row in rows), [row[column] for row in rows]
    by_record: dict[tuple[Any, Any], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_record.setdefault((row.get("object_type"), row.get("record_id")), []).append(row)
    for record, written in by_record.items():
        ordered = [row[column] for row in sorted(written, key=lambda row: row.get("id") or 0)]
        assert ordered == sorted(set(ordered)), (record, ordered)


RULES_BY_NAME: dict[str, RowCheck] = {"version": versions, "sequence": sequences}
# (table, column) -> its check; add one for each column an issue-19 migration adds that no rule above covers
def held(column: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A hold stored by the old code was waiting for its re-check: ``held``."""
    assert rows and all(row[column] == "held" for row in rows), [row[column] for row in rows]


def empty(column: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Nothing the old code knew: every old row holds NULL."""
    assert all(row[column] is None for row in rows), [row[column] for row in rows]


def owner_field(column: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """The old code wrote every owner to OwnerId."""
    assert rows and all(row[column] == "OwnerId" for row in rows), [row[column] for row in rows]


NEW_COLUMN_VALUES: dict[tuple[str, str], RowCheck] = {
    ("outbox", "retrying_since"): empty,  # old rows had not begun a retry window: it starts at their next failure
    ("outbox", "superseded_by"): empty,  # no old row was marked superseded
    ("outbox", "fields"): empty,  # old rows write the owner only
    ("outbox", "owner_field"): owner_field,
    ("holds", "status"): held,
}


# building the old store ------------------------------------------------------------------------------------------
def old_migrations(directory: Path) -> Path:
    """3a76d03's ``adapters/store/migrations``, extracted from git under ``directory``."""
    found = subprocess.run(["git", "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"], cwd=REPO, capture_output=True,
                           check=False)
    if found.returncode != 0:
        reason = f"commit {OLD_COMMIT} is not in this checkout's history (a shallow clone?); the test builds its store"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the clone must have the history)")
        pytest.skip(reason)
    archive = subprocess.run(["git", "archive", OLD_COMMIT, "adapters/store/migrations"], cwd=REPO,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory / "adapters" / "store" / "migrations"


def upgrade_as_old_code(engine: Engine, schema: str | None, script_location: Path) -> None:
    """What 3a76d03's ``upgrade_schema`` did, with its migrations."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.connect() as connection:
        if schema:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.commit()
        config.attributes["connection"] = connection
        config.attributes["schema"] = schema
        command.upgrade(config, "head")
        connection.commit()


def stored_value(value: Any, dialect: str) -> Any:
    """A value as the old code's SQLAlchemy types stored it: JSON as text, and on SQLite a UTC time as
    ``YYYY-MM-DD HH:MM:SS.ffffff`` with no offset."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, datetime) and dialect == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_old_rows(engine: Engine) -> None:
    """Every row of ``OLD_ROWS`` with plain SQL (ids the database assigns, as the old code let it)."""
    with engine.begin() as connection:
        dialect, quote = connection.dialect.name, connection.dialect.identifier_preparer.quote
        for table, rows in OLD_ROWS.items():
            columns = list(rows[0])
            values = ", ".join(f"CAST(:{column} AS JSONB)" if dialect == "postgresql" and isinstance(
                rows[0][column], dict | list) else f":{column}" for column in columns)
            statement = f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES ({values})"
            for row in rows:
                connection.execute(sa.text(statement), {column: stored_value(row[column], dialect)
                                                        for column in columns})


def in_utc(value: datetime) -> datetime:
    """An instant as aware UTC (a naive value read through old code's columns is UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def columns_by_table(engine: Engine, schema: str | None) -> dict[str, list[str]]:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {table: [column["name"] for column in inspector.get_columns(table, schema=schema)]
                for table in inspector.get_table_names(schema=schema)}


def alembic_version(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")]


@dataclass
class Upgraded:
    engine: Engine
    schema: str | None
    store: Store
    old_columns: dict[str, list[str]]  # the schema the old migrations made, table -> columns
    old_version: list[str]  # the revision they left in alembic_version

    def new_columns(self) -> dict[str, list[str]]:
        """Columns added to tables the old store had."""
        now = columns_by_table(self.engine, self.schema)
        return {table: [column for column in now.get(table, []) if column not in columns]
                for table, columns in self.old_columns.items() if set(now.get(table, [])) - set(columns)}

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A table's rows through today's table definition, times in UTC."""
        with self.engine.connect() as connection:
            return [{key: in_utc(value) if isinstance(value, datetime) else value
                     for key, value in row._mapping.items()}
                    for row in connection.execute(sa.select(metadata.tables[table]))]


@pytest.fixture(params=["sqlite", "postgresql"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Upgraded]:
    if request.param == "sqlite":
        engine, schema = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}"), None
    else:
        schema = request.getfixturevalue("pg_schema")
        engine = make_engine(request.getfixturevalue("postgres_url"), schema)
    upgrade_as_old_code(engine, schema, old_migrations(tmp_path / "old"))
    old_columns, old_version = columns_by_table(engine, schema), alembic_version(engine)
    insert_old_rows(engine)
    upgrade_schema(engine, schema)
    yield Upgraded(engine, schema, Store(engine), old_columns, old_version)
    engine.dispose()


# the checks --------------------------------------------------------------------------------------------------
def test_the_old_store_was_at_the_old_head_and_is_now_at_todays(upgraded: Upgraded) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    assert upgraded.old_version == [OLD_HEAD]
    assert alembic_version(upgraded.engine) == [scripts.get_current_head()]
    assert OLD_HEAD in {revision.revision for revision in scripts.walk_revisions()}
    assert set(upgraded.old_columns) >= set(OLD_ROWS)  # every table the data fills was made by the old migrations


def test_every_table_and_column_of_todays_tables_exists_and_no_other(upgraded: Upgraded) -> None:
    found = columns_by_table(upgraded.engine, upgraded.schema)
    found.pop("alembic_version")

    assert {table: sorted(columns) for table, columns in found.items()} == {
        name: sorted(column.name for column in table.columns) for name, table in metadata.tables.items()}


def test_every_old_row_is_still_there_with_its_values(upgraded: Upgraded) -> None:
    for table, old_rows in OLD_ROWS.items():
        key = NATURAL_KEYS.get(table) or tuple(column.name for column in metadata.tables[table].primary_key)
        now = {tuple(row[name] for name in key): row for row in upgraded.rows(table)}
        assert len(now) == len(old_rows), table
        for old in old_rows:
            row = now[tuple(old[name] for name in key)]
            assert {column: row[column] for column in old} == old, table


def test_todays_repositories_read_the_old_rows(upgraded: Upgraded) -> None:
    store = upgraded.store
    assert [(write.routing_id, write.attempts) for write in store.outbox.due(NOW)] == [("b-reserved", 1)]
    assert [write.routing_id for write in store.outbox.due(NOW, "bulk")] == ["r-lead5"]
    assert store.outbox.statuses(["r-lead1-old", "r-lead1", "r-lead2", "r-nothing"]) == {
        "r-lead1-old": "sent", "r-lead1": "sent", "r-lead2": "failed"}
    assert store.outbox.summary() == {("sent", 3): 1, ("sent", 1): 1, ("failed", 8): 1, ("pending", 1): 1,
                                      ("pending", 0): 1}

    booking = store.bookings.get("b-confirmed")
    assert booking is not None
    assert (booking.status, booking.starts_at, booking.co_host_ids, booking.calendar_host_id, booking.event_host_id) == (
        "confirmed", BY_ID["b-confirmed"]["starts_at"], [REP_D], REP_C, REP_C)
    assert store.bookings.group_hosts_of("b-confirmed") == {"EMEA": REP_D}
    start = BY_ID["b-reserved"]["starts_at"]
    assert store.bookings.held_times([REP_A], start, start + timedelta(hours=1)) == {
        REP_A: [Hold(REP_A, start, start + timedelta(minutes=40))]}
    assert [row.id for row in store.operations.unfinished_bookings(FINAL_STATUSES)] == ["b-reserved", "b-calendar"]

    decisions = store.decisions
    assert decisions.count_assignments() == 6 and decisions.team_decisions("Inbound") == 4
    for log in decisions.assignment_logs(["r-lead1", "r-lead3", "b-reserved"]).values():
        AssignmentLog.model_validate(log)  # today's strict contract reads the old logs
    with decisions.reader() as reader:
        assert reader.record_states([("Lead", LEAD_1)]) == {
            ("Lead", LEAD_1): RecordState(at(1) - timedelta(minutes=1), "r-lead1", REP_A)}
        assert reader.unavailable_members() == {REP_C}
    assert [(row.record_id, row.routing_id, row.write_status) for row in store.operations.latest_owner_decisions()] == [
        (LEAD_1, "r-lead1", "sent"), (LEAD_2, "r-lead2", "failed"), (LEAD_4, "b-reserved", "pending"),
        (LEAD_5, "r-lead5", "pending")]

    trace = store.operations.record_trace(LEAD_1)
    assert [log["routing_id"] for log in trace.logs] == ["r-lead1", "r-lead1-old"]
    assert trace.outbox["r-lead1"].status == "sent" and trace.configs == {1: T0}
    assert [(held.routing_id, held.checks) for held in store.holds.held()] == [("r-lead3", 2)]
    assert store.sla_timers.states() == {"r-lead1": "breached"}

    administration = store.administration
    config = administration.latest_config()
    assert config is not None and (config.version, config.body) == (1, CONFIG)
    load_config_text(config.body)
    assert [letter.message_id for letter in administration.dead_letters()] == ["outbox-r-lead2"]
    assert len(administration.dead_letters(include_replayed=True)) == 2
    assert (administration.api_usage() or None) is not None
    position = administration.stream_position("/data/LeadChangeEvent")
    assert position is not None and (position.replay_id, position.event_at) == (4711, at(5))
    job = administration.reassign_job("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert job is not None and (job.state, job.counts) == ("done", {"read": 1, "routed": 1, "written": 1})
    token = store.tokens.find(TOKEN)
    assert token is not None and token.usable(NOW) and token.scopes == ("bookings:write",)


def test_columns_added_since_the_old_commit_hold_sensible_values_in_old_rows(upgraded: Upgraded) -> None:
    unexplained: list[str] = []
    for table, columns in upgraded.new_columns().items():
        rows = upgraded.rows(table)
        assert len(rows) == len(OLD_ROWS.get(table, rows)), table
        for column in columns:
            check = NEW_COLUMN_VALUES.get((table, column)) or RULES_BY_NAME.get(column)
            if check is None:
                unexplained.append(f"{table}.{column}")
            elif rows:
                check(column, rows)
    assert unexplained == [], ("columns added since 3a76d03 without a check of what old rows hold: add each to "
                               "NEW_COLUMN_VALUES")


def test_the_upgraded_store_takes_new_writes(upgraded: Upgraded) -> None:
    store = upgraded.store
    with store.decisions.transaction() as tx:
        tx.lock_team_states(["Inbound"], NOW)
        log = {**assignment_log("r-new", LEAD_2, "assigned", REP_A, NOW)}
        tx.save_decisions(DecisionRows(
            team_states=[TeamStateUpdate("Inbound", {"cursor": 3}, 1, NOW)],
            assignments=[Assignment("r-new", LEAD_2, "Lead", "assigned", REP_A, "Inbound", "round_robin", 1, log,
                                    NOW, NOW)],
            record_states=[RecordStateUpdate("Lead", LEAD_2, NOW, "r-new", REP_A, NOW)],
            owner_writes=[OwnerWrite("r-new", "Lead", LEAD_2, REP_A, "realtime", NOW)]))
    assert [write.routing_id for write in store.outbox.due(NOW)] == ["b-reserved", "r-new"]
    [newest] = [row for row in upgraded.rows("outbox") if row["routing_id"] == "r-new"]
    assert newest["id"] > max(row["id"] for row in upgraded.rows("outbox") if row["routing_id"] != "r-new")

    starts = NOW + timedelta(days=10)
    store.bookings.reserve(NewBooking(
        id="b-new", status="reserved", booking_type="Discovery", object_type="Lead", record_id=LEAD_2,
        scheduler_user_id=REP_D, host_id=REP_A, pool="Inbound", co_host_ids=[], starts_at=starts,
        ends_at=starts + timedelta(minutes=30), guest_email="guest@example.com", invitees=[], platform="google_meet",
        request={}, created_at=NOW), [Hold(REP_A, starts, starts + timedelta(minutes=30))])
    assert store.bookings.get("b-new") is not None
    letter = store.administration.add_dead_letter(NewDeadLetter(
        "outbox-r-new", "outbox", "outbox", "outbox", ["r-new"], {"record_ids": [LEAD_2]}, "refused", NOW))
    assert letter > max(row["id"] for row in upgraded.rows("dead_letters") if row["message_id"] != "outbox-r-new")


def snapshot(upgraded: Upgraded) -> dict[str, Any]:
    with upgraded.engine.connect() as connection:
        inspector = sa.inspect(connection)
        schema = {table: ([(column["name"], str(column["type"]), column["nullable"])
                           for column in inspector.get_columns(table, schema=upgraded.schema)],
                          sorted(index["name"] or "" for index in inspector.get_indexes(table, schema=upgraded.schema)))
                  for table in inspector.get_table_names(schema=upgraded.schema)}
    contents = {table: sorted(json.dumps(row, default=str, sort_keys=True) for row in upgraded.rows(table))
                for table in metadata.tables}
    return {"version": alembic_version(upgraded.engine), "schema": schema, "rows": contents}


def test_a_second_upgrade_changes_nothing(upgraded: Upgraded) -> None:
    before = snapshot(upgraded)

    upgrade_schema(upgraded.engine, upgraded.schema)

    assert snapshot(upgraded) == before
