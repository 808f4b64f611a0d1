"""The state store: every read and write the stages and the CLI make, in one place."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.store.decision_write import DecisionRows, write_decisions_postgresql
from adapters.store.meeting_counts import count_meetings
from adapters.store.tables import (
    SYNCED_TABLES,
    api_usage,
    assignments,
    config_versions,
    dead_letters,
    holds,
    member_status,
    outbox,
    reassign_jobs,
    record_states,
    sf_accounts,
    sf_users,
    sticky_owners,
    stream_positions,
    sync_positions,
    team_states,
)
from kernel.errors import DependencyUnavailable, TransientError


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything Baton stores is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredConfig:
    version: int
    body: str
    digest: str
    applied_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    id: int
    message_id: str
    queue_name: str
    actor_name: str
    stage: str
    routing_ids: list[str]
    message: dict[str, Any]
    reason: str
    failed_at: datetime
    replayed_at: datetime | None
    replay_count: int


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API requests, as Salesforce last reported them (Sforce-Limit-Info)."""

    used: int
    limit: int
    observed_at: datetime

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


@dataclass(frozen=True)
class RecordState:
    last_event_at: datetime
    routing_id: str
    owner_id: str | None


@dataclass(frozen=True)
class StreamPosition:
    """Where a Streaming API channel was left: the last processed replay id (None after a catch-up by
    query) and the time of the last event covered, from which a catch-up query starts."""

    channel: str
    replay_id: int | None
    event_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class ReassignJob:
    """A batch reassignment job: what it reads, where it got to, and its counts."""

    id: str
    source: str
    query: str
    object_type: str
    state: str
    dry_run: bool
    bulk_query_job_id: str | None
    counts: dict[str, int]
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SyncPosition:
    """Where an object's sync stands: the last (SystemModstamp, Id) written, and a pending full-sync sweep."""

    object_type: str
    last_modstamp: datetime | None = None
    last_id: str | None = None
    sweep_before: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """The few columns of a stored assignment that a job's progress and summary need."""

    outcome: str
    owner_id: str | None
    team: str | None


AVAILABILITY_CACHE_S = 1.0
IN_CHUNK = 500


def pairs_in(first: sa.ColumnElement[Any], second: sa.ColumnElement[Any],
             pairs: Iterable[tuple[Any, Any]]) -> sa.ColumnElement[bool]:
    """``(first, second) IN pairs`` as ``first = a AND second IN (...)`` per distinct ``a``, OR-ed: SQLite scans
    the whole table for a row-value IN list, but searches a two-column key's index for this form."""
    grouped: dict[Any, list[Any]] = {}
    for left, right in pairs:
        grouped.setdefault(left, []).append(right)
    return sa.or_(*(sa.and_(first == left, second.in_(rights)) for left, rights in grouped.items()))


def _chunks(ids: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class Transaction:
    """One database transaction; the assign stage does all its work inside one."""

    def __init__(
        self, connection: Connection, known_teams: set[str] | None = None,
        availability_cache: dict[str, tuple[float, set[str]]] | None = None,
    ):
        self._availability_cache = availability_cache if availability_cache is not None else {}
        self.connection = connection
        self._dialect = connection.dialect.name
        self._known_teams = known_teams if known_teams is not None else set()

    def _insert_ignoring_conflicts(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        self.connection.execute(insert(table).on_conflict_do_nothing(), rows)

    def decided(self, routing_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Assignment logs already stored for these routing ids (a redelivery finds them here)."""
        ids = list(routing_ids)
        if not ids:
            return {}
        rows = self.connection.execute(
            sa.select(assignments.c.routing_id, assignments.c.log).where(assignments.c.routing_id.in_(ids))
        )
        return {row.routing_id: row.log for row in rows}

    def lock_team_states(self, teams: Iterable[str], now: datetime) -> dict[str, dict[str, Any]]:
        """Each team's selection state, locked until commit (sorted, so two batches cannot deadlock)."""
        names = sorted(set(teams))
        if not names:
            return {}
        self._create_team_rows([name for name in names if name not in self._known_teams], now)
        states = self._select_for_update(names)
        if len(states) < len(names):  # a row this process thought existed was rolled back
            self._create_team_rows([name for name in names if name not in states], now)
            states = self._select_for_update(names)
        self._known_teams.update(states)
        return states

    def _create_team_rows(self, names: list[str], now: datetime) -> None:
        self._insert_ignoring_conflicts(
            team_states, [{"team": name, "state": {}, "decisions": 0, "updated_at": now} for name in names]
        )

    def _select_for_update(self, names: list[str]) -> dict[str, dict[str, Any]]:
        query = sa.select(team_states.c.team, team_states.c.state).where(team_states.c.team.in_(names))
        if self._dialect == "postgresql":
            query = query.order_by(team_states.c.team).with_for_update()
        return {row.team: row.state for row in self.connection.execute(query)}

    def record_states(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RecordState]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self.connection.execute(
            sa.select(record_states).where(pairs_in(record_states.c.object_type, record_states.c.record_id, wanted))
        )
        return {
            (row.object_type, row.record_id): RecordState(as_utc(row.last_event_at), row.routing_id, row.owner_id)  # type: ignore[arg-type]
            for row in rows
        }

    def save_record_states(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(record_states)
        statement = statement.on_conflict_do_update(
            index_elements=[record_states.c.object_type, record_states.c.record_id],
            set_={
                "last_event_at": statement.excluded.last_event_at,
                "routing_id": statement.excluded.routing_id,
                "owner_id": statement.excluded.owner_id,
                "updated_at": statement.excluded.updated_at,
            },
            where=record_states.c.last_event_at <= statement.excluded.last_event_at,
        )
        self.connection.execute(statement, list(rows))

    def save_assignments(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(sa.insert(assignments), list(rows))

    def replace_held_assignments(self, rows: Sequence[dict[str, Any]]) -> None:
        """A re-checked hold's new decision; fails (to be retried) if another worker decided it first."""
        for row in rows:
            values = {key: value for key, value in row.items() if key != "routing_id"}
            result = self.connection.execute(
                sa.update(assignments)
                .where(assignments.c.routing_id == row["routing_id"], assignments.c.outcome == "held")
                .values(**values)
            )
            if result.rowcount != 1:
                raise TransientError(f"held record {row['routing_id']} was decided concurrently; will re-read")

    def sticky_owners(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, datetime]]:
        """(team, sticky key) -> (owner id, when that owner last got a record for the key)."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self.connection.execute(
            sa.select(sticky_owners).where(pairs_in(sticky_owners.c.team, sticky_owners.c.sticky_key, wanted))
        )
        return {(row.team, row.sticky_key): (row.owner_id, as_utc(row.assigned_at)) for row in rows}  # type: ignore[misc]

    def save_sticky_owners(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(sticky_owners)
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[sticky_owners.c.team, sticky_owners.c.sticky_key],
                set_={"owner_id": statement.excluded.owner_id, "assigned_at": statement.excluded.assigned_at},
            ),
            list(rows),
        )

    def meeting_counts(self, host_ids: Iterable[str], since: datetime, until: datetime, *, by: str,
                       statuses: Sequence[str]) -> dict[str, int]:
        """Meetings each host hosted in ``[since, until)`` (see ``count_meetings``): one query."""
        return count_meetings(self.connection, host_ids, since, until, by=by, statuses=statuses)

    def hold_times(self, routing_ids: Iterable[str]) -> dict[str, datetime]:
        ids = list(routing_ids)
        if not ids:
            return {}
        rows = self.connection.execute(
            sa.select(holds.c.routing_id, holds.c.held_at).where(holds.c.routing_id.in_(ids))
        )
        return {row.routing_id: as_utc(row.held_at) for row in rows}  # type: ignore[misc]

    def save_holds(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(holds)
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[holds.c.routing_id],
                set_={"reason": statement.excluded.reason, "recheck_at": statement.excluded.recheck_at,
                      "context": statement.excluded.context, "checks": holds.c.checks + 1},
            ),
            list(rows),
        )

    def release_holds(self, routing_ids: Iterable[str]) -> None:
        ids = list(routing_ids)
        if ids:
            self.connection.execute(sa.delete(holds).where(holds.c.routing_id.in_(ids)))

    def add_to_outbox(self, rows: Sequence[dict[str, Any]]) -> None:
        self._insert_ignoring_conflicts(outbox, list(rows))

    def save_decisions(self, rows: DecisionRows) -> None:
        """Team states, assignment logs, record states and outbox rows: one statement on PostgreSQL."""
        if self._dialect == "postgresql":
            write_decisions_postgresql(self.connection, rows)
            return
        for row in rows.team_states:
            self.connection.execute(
                sa.update(team_states).where(team_states.c.team == row["team"])
                .values(state=row["state"], decisions=team_states.c.decisions + row["decisions"],
                        updated_at=row["updated_at"])
            )
        self.save_assignments(rows.assignments)
        self.save_record_states(rows.record_states)
        self.add_to_outbox(rows.outbox)
    # synced reference data -------------------------------------------------------------------
    def upsert_synced(self, object_type: str, rows: Sequence[dict[str, Any]], *, newer_only: bool) -> None:
        """Writes rows of Baton's copy of ``object_type``, never over a newer version (by SystemModstamp).

        Change events pass ``newer_only=True``: a row is written only over an older one. The sync
        passes False: an equal version is rewritten too, and ``written_at`` is refreshed even when a
        newer version is kept, so a full sync marks every record it saw. Rows may hold only some
        columns (an event names the fields it carries); rows with the same columns share a statement.
        """
        table = SYNCED_TABLES[object_type]
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        for columns, group in groups.items():
            statement = insert(table)
            stored, incoming = table.c.system_modstamp, statement.excluded.system_modstamp
            changed = [column for column in columns if column not in ("id", "written_at")]
            if newer_only:
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.id],
                    set_={column: statement.excluded[column] for column in [*changed, "written_at"]},
                    where=stored < incoming,
                )
            else:
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.id],
                    set_={"written_at": statement.excluded.written_at,
                          **{column: sa.case((stored <= incoming, statement.excluded[column]), else_=table.c[column])
                             for column in changed}},
                )
            self.connection.execute(statement, group)

    def sweep_synced(self, object_type: str, before: datetime, modified_until: datetime) -> int:
        """Drops rows a full sync did not rewrite: gone from Salesforce (beyond the recycle bin).

        Rows modified after ``modified_until`` (the pass's upper bound) were never asked for; they stay.
        """
        table = SYNCED_TABLES[object_type]
        return self.connection.execute(
            sa.delete(table).where(table.c.written_at < before, table.c.system_modstamp <= modified_until)
        ).rowcount

    def save_sync_position(self, position: SyncPosition, now: datetime) -> None:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        values = {"object_type": position.object_type, "last_modstamp": position.last_modstamp,
                  "last_id": position.last_id, "sweep_before": position.sweep_before, "synced_at": now}
        statement = insert(sync_positions).values(**values)
        self.connection.execute(statement.on_conflict_do_update(
            index_elements=[sync_positions.c.object_type],
            set_={key: value for key, value in values.items() if key != "object_type"},
        ))

    def member_availability(self) -> set[str]:
        """User ids toggled unavailable (read at most once a second per process)."""
        cached = self._availability_cache.get("unavailable")
        if cached is not None and time.monotonic() - cached[0] < AVAILABILITY_CACHE_S:
            return cached[1]
        rows = self.connection.execute(
            sa.select(member_status.c.user_id).where(member_status.c.available.is_(False))
        )
        unavailable = {row.user_id for row in rows}
        self._availability_cache["unavailable"] = (time.monotonic(), unavailable)
        return unavailable


class ReassignJobs:
    """Batch reassignment jobs and the reads they make over many routing ids (mixed into Store)."""

    engine: Engine

    def add_reassign_job(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.insert(reassign_jobs).values(**row))

    def reassign_job(self, job_id: str) -> ReassignJob | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(reassign_jobs).where(reassign_jobs.c.id == job_id)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["created_at"], values["updated_at"] = as_utc(row.created_at), as_utc(row.updated_at)
        return ReassignJob(**values)

    def update_reassign_job(self, job_id: str, now: datetime, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(reassign_jobs).where(reassign_jobs.c.id == job_id).values(updated_at=now, **values)
            )

    def decisions(self, routing_ids: Sequence[str]) -> dict[str, Decision]:
        """Stored decisions among these routing ids (outcome, owner, team only; no logs)."""
        found: dict[str, Decision] = {}
        columns = (assignments.c.routing_id, assignments.c.outcome, assignments.c.owner_id, assignments.c.team)
        with self.engine.connect() as connection:
            for chunk in _chunks(routing_ids):
                rows = connection.execute(sa.select(*columns).where(assignments.c.routing_id.in_(chunk)))
                found.update({row.routing_id: Decision(row.outcome, row.owner_id, row.team) for row in rows})
        return found

    def outbox_statuses(self, routing_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(routing_ids):
                rows = connection.execute(
                    sa.select(outbox.c.routing_id, outbox.c.status).where(outbox.c.routing_id.in_(chunk))
                )
                found.update({row.routing_id: row.status for row in rows})
        return found

    def next_outbox_attempt(self, channel: str) -> datetime | None:
        """When the earliest pending row of a channel that waits for a retry is due; None if none waits."""
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == "pending", outbox.c.channel == channel, outbox.c.next_attempt_at.is_not(None)
                )
            ).scalar()
        return as_utc(value)


CONFLICT_STATES = ("40P01", "40001")  # deadlock detected, serialization failure


class ConcurrentWriteConflict(TransientError):
    """PostgreSQL aborted the transaction because of a concurrent one: running it again succeeds."""


def database_failure(exc: sa.exc.DBAPIError) -> TransientError:
    """An operational database error as Baton's error: a conflict with a concurrent transaction, or the
    database out of reach (an outage, whose retries do not count against the message)."""
    if getattr(exc.orig, "sqlstate", None) in CONFLICT_STATES:
        return ConcurrentWriteConflict(f"concurrent transaction conflict: {exc.orig}")
    return DependencyUnavailable(f"database unavailable: {exc.orig or exc}")


class Store(ReassignJobs):
    def __init__(self, engine: Engine):
        self.engine = engine
        self._known_teams: set[str] = set()
        self._availability_cache: dict[str, tuple[float, set[str]]] = {}

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction; database trouble surfaces as TransientError so the stage retries."""
        try:
            with self.engine.begin() as connection:
                yield Transaction(connection, self._known_teams, self._availability_cache)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise database_failure(exc) from exc
        except sa.exc.IntegrityError as exc:
            raise TransientError(f"concurrent write of the same key, will re-read: {exc.orig or exc}") from exc

    # configuration -------------------------------------------------------------------------
    def latest_config(self) -> StoredConfig | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(config_versions).order_by(config_versions.c.version.desc()).limit(1)
            ).first()
        return _stored_config(row) if row else None

    def config(self, version: int) -> StoredConfig | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(config_versions).where(config_versions.c.version == version)
            ).first()
        return _stored_config(row) if row else None

    def save_config(self, body: str, digest: str, now: datetime) -> tuple[int, bool]:
        """Store a validated config; returns (version, created). The same text as the newest is a no-op."""
        with self.transaction() as tx:
            latest = tx.connection.execute(
                sa.select(config_versions.c.version, config_versions.c.digest)
                .order_by(config_versions.c.version.desc())
                .limit(1)
            ).first()
            if latest and latest.digest == digest:
                return latest.version, False
            result = tx.connection.execute(
                sa.insert(config_versions).values(digest=digest, body=body, applied_at=now)
            )
            return int(result.inserted_primary_key[0]), True

    # outcomes --------------------------------------------------------------------------------
    def assignment_logs(self, routing_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(routing_ids)
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = connection.execute(
                    sa.select(assignments.c.routing_id, assignments.c.log).where(
                        assignments.c.routing_id.in_(chunk)
                    )
                )
                found.update({row.routing_id: row.log for row in rows})
        return found

    def latest_routed_log(self, object_type: str, record_id: str,
                          skip_method: str = "booking") -> dict[str, Any] | None:
        """The newest decision's log for a record made by routing (not by a booking), or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(assignments.c.log)
                .where(assignments.c.record_id == record_id, assignments.c.object_type == object_type,
                       sa.or_(assignments.c.method.is_(None), assignments.c.method != skip_method))
                .order_by(assignments.c.decided_at.desc())
                .limit(1)
            ).first()
        return row.log if row is not None else None

    def count_assignments(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(assignments)).scalar_one())

    def owner_counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(assignments.c.owner_id, sa.func.count())
                .where(assignments.c.outcome == "assigned")
                .group_by(assignments.c.owner_id)
            )
            return {row[0]: int(row[1]) for row in rows}

    def outbox_summary(self) -> dict[tuple[str, int], int]:
        """How many outbox rows sit at each (status, attempts): a record written once shows attempts 1."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.status, outbox.c.attempts, sa.func.count()).group_by(
                    outbox.c.status, outbox.c.attempts
                )
            )
            return {(row[0], int(row[1])): int(row[2]) for row in rows}

    def team_decisions(self, team: str) -> int:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(team_states.c.decisions).where(team_states.c.team == team)
            ).scalar()
        return int(value or 0)

    def team_state(self, team: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(team_states.c.state).where(team_states.c.team == team)).first()
        return row.state if row else None

    def due_outbox(self, now: datetime, channel: str = "realtime", limit: int = 2000) -> list[dict[str, Any]]:
        """Pending owner writes of a channel whose next attempt is due, oldest first."""
        query = (
            sa.select(outbox)
            .where(outbox.c.status == "pending", outbox.c.channel == channel,
                   sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            result = connection.execute(query)
            names = list(result.keys())  # once, not per row: a batch job's round is 100,000 rows
            return [dict(zip(names, row, strict=True)) for row in result]

    def mark_outbox(self, routing_ids: Iterable[str], status: str, now: datetime, error: str | None = None) -> None:
        """A finished write attempt: sent, rejected by Salesforce, not configured, or failed for good."""
        ids = list(routing_ids)
        if not ids:
            return
        with self.transaction() as tx:
            tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids))
                .values(status=status, sent_at=now, last_error=error, attempts=outbox.c.attempts + 1,
                        next_attempt_at=None)
            )

    def note_outbox_error(self, routing_ids: Iterable[str], note: str) -> None:
        """Notes why rows are where they are (e.g. a write in flight) without counting an attempt."""
        ids = list(routing_ids)
        if not ids:
            return
        with self.transaction() as tx:
            tx.connection.execute(sa.update(outbox).where(outbox.c.routing_id.in_(ids)).values(last_error=note))

    def defer_outbox(self, errors: dict[str, str], until: datetime) -> None:
        """Writes that will be retried: count the attempt, keep the error, try again at ``until``."""
        if not errors:
            return
        with self.transaction() as tx:
            tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id == sa.bindparam("rid"))
                .values(attempts=outbox.c.attempts + 1, last_error=sa.bindparam("error"), next_attempt_at=until),
                [{"rid": routing_id, "error": error} for routing_id, error in errors.items()],
            )

    def requeue_outbox(self, routing_ids: Iterable[str]) -> int:
        """Failed writes back to pending (a replayed dead letter); returns how many."""
        ids = list(routing_ids)
        if not ids:
            return 0
        with self.transaction() as tx:
            result = tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids), outbox.c.status == "failed")
                .values(status="pending", next_attempt_at=None)
            )
            return int(result.rowcount or 0)

    def save_api_usage(self, used: int, limit: int, now: datetime, name: str = "api-usage") -> None:
        with self.transaction() as tx:
            insert = postgresql.insert if tx._dialect == "postgresql" else sqlite.insert
            statement = insert(api_usage).values(name=name, used=used, limit=limit, observed_at=now)
            tx.connection.execute(statement.on_conflict_do_update(
                index_elements=[api_usage.c.name], set_={"used": used, "limit": limit, "observed_at": now},
            ))

    def api_usage(self, name: str = "api-usage") -> ApiUsage | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(api_usage).where(api_usage.c.name == name)).first()
        return ApiUsage(row.used, row.limit, as_utc(row.observed_at)) if row else None  # type: ignore[arg-type]

    def set_member_available(self, user_id: str, available: bool, now: datetime) -> None:
        with self.transaction() as tx:
            insert = postgresql.insert if tx._dialect == "postgresql" else sqlite.insert
            statement = insert(member_status).values(user_id=user_id, available=available, changed_at=now)
            tx.connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[member_status.c.user_id],
                    set_={"available": available, "changed_at": now},
                )
            )
        self._availability_cache.clear()

    # synced reference data -------------------------------------------------------------------
    def sync_position(self, object_type: str) -> SyncPosition | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(sync_positions).where(sync_positions.c.object_type == object_type)
            ).first()
        if row is None:
            return None
        return SyncPosition(object_type, as_utc(row.last_modstamp), row.last_id, as_utc(row.sweep_before))

    def synced_rows(self, object_type: str, written_since: datetime | None = None) -> list[dict[str, Any]]:
        """Live rows of one synced object; accounts carry ``owner_is_active``, contacts ``account_name``.
        With ``written_since``: every row written since then, removed ones too (their ``removed_reason`` says)."""
        table = SYNCED_TABLES[object_type]
        source: sa.FromClause = table
        extra: list[sa.ColumnElement[Any]] = []
        if object_type == "Account":
            source = table.outerjoin(sf_users, sf_users.c.id == table.c.owner_id)
            extra = [sf_users.c.is_active.label("owner_is_active")]
        elif object_type == "Contact":
            source = table.outerjoin(sf_accounts, sf_accounts.c.id == table.c.account_id)
            extra = [sf_accounts.c.name.label("account_name")]
        query = sa.select(table, *extra).select_from(source)
        if written_since is None:
            query = query.where(table.c.removed_reason.is_(None))
        else:
            query = query.where(table.c.written_at >= written_since)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def synced_row(self, object_type: str, record_id: str) -> dict[str, Any] | None:
        """One row of the copy, live or removed (its ``removed_reason`` says)."""
        table = SYNCED_TABLES[object_type]
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == record_id)).first()
        return dict(row._mapping) if row else None

    def synced_stamp(self, object_types: Sequence[str]) -> tuple[Any, ...]:
        """Changes whenever any of these copies is written or swept: one cheap query to poll."""
        parts: list[sa.ScalarSelect[Any]] = []
        for object_type in object_types:
            table = SYNCED_TABLES[object_type]
            parts.append(sa.select(sa.func.max(table.c.written_at)).scalar_subquery())
            parts.append(sa.select(sync_positions.c.synced_at)
                         .where(sync_positions.c.object_type == object_type).scalar_subquery())
        with self.engine.connect() as connection:
            return tuple(connection.execute(sa.select(*parts)).one())

    # holds ------------------------------------------------------------------------------------
    def holds(self, due_at: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Held records, oldest first; only those due for a re-check when ``due_at`` is given."""
        query = sa.select(holds).order_by(holds.c.recheck_at, holds.c.routing_id)
        if due_at is not None:
            query = query.where(holds.c.recheck_at <= due_at)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        for row in rows:
            row["held_at"], row["recheck_at"] = as_utc(row["held_at"]), as_utc(row["recheck_at"])
        return rows

    def postpone_holds(self, routing_ids: Iterable[str], until: datetime) -> None:
        ids = list(routing_ids)
        if ids:
            with self.transaction() as tx:
                tx.connection.execute(sa.update(holds).where(holds.c.routing_id.in_(ids)).values(recheck_at=until))

    def recheck_holds_now(self, now: datetime) -> None:
        """Someone became available: every hold is due for a re-check."""
        with self.transaction() as tx:
            tx.connection.execute(sa.update(holds).values(recheck_at=now))

    # dead letters ------------------------------------------------------------------------------
    def add_dead_letter(self, row: dict[str, Any]) -> int:
        with self.transaction() as tx:
            result = tx.connection.execute(sa.insert(dead_letters).values(**row))
            return int(result.inserted_primary_key[0])

    def dead_letters(self, stage: str | None = None, include_replayed: bool = False) -> list[DeadLetter]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id)
        if stage:
            query = query.where(dead_letters.c.stage == stage)
        if not include_replayed:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        with self.engine.connect() as connection:
            return [_dead_letter(row) for row in connection.execute(query)]

    def dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return _dead_letter(row) if row else None

    def mark_replayed(self, letter_id: int, now: datetime) -> None:
        with self.transaction() as tx:
            tx.connection.execute(
                sa.update(dead_letters)
                .where(dead_letters.c.id == letter_id)
                .values(replayed_at=now, replay_count=dead_letters.c.replay_count + 1)
            )

    # stream positions --------------------------------------------------------------------------
    def stream_position(self, channel: str) -> StreamPosition | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(stream_positions).where(stream_positions.c.channel == channel)).first()
        if row is None:
            return None
        return StreamPosition(row.channel, row.replay_id, as_utc(row.event_at), as_utc(row.updated_at))  # type: ignore[arg-type]

    def save_stream_position(self, channel: str, replay_id: int | None, event_at: datetime | None,
                             now: datetime) -> None:
        """Call only once the events up to ``replay_id`` are enqueued (the broker confirmed them)."""
        values = {"channel": channel, "replay_id": replay_id, "event_at": event_at, "updated_at": now}
        with self.transaction() as tx:
            insert = postgresql.insert if tx._dialect == "postgresql" else sqlite.insert
            statement = insert(stream_positions).values(**values)
            tx.connection.execute(statement.on_conflict_do_update(
                index_elements=[stream_positions.c.channel],
                set_={"replay_id": replay_id, "event_at": event_at, "updated_at": now},
            ))


def _stored_config(row: Any) -> StoredConfig:
    return StoredConfig(row.version, row.body, row.digest, as_utc(row.applied_at))  # type: ignore[arg-type]


def _dead_letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        message_id=row.message_id,
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        stage=row.stage,
        routing_ids=list(row.routing_ids),
        message=dict(row.message),
        reason=row.reason,
        failed_at=as_utc(row.failed_at),  # type: ignore[arg-type]
        replayed_at=as_utc(row.replayed_at),
        replay_count=row.replay_count,
    )
