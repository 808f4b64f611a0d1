"""Leader locks on a SQLite file: one process on the file leads (a file lock beside it), every LeaderLock of the
name in that process shares it, and a leader killed with -9 leaves the lock free. (PostgreSQL's advisory locks:
tests/integration/test_leader_election.py.)"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from adapters.store import make_engine
from adapters.store.leader import LeaderLock
from tests.support.stores import another_process_asks_for, another_process_holding


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")
    yield engine
    engine.dispose()


def test_the_lock_is_a_file_beside_the_database_named_after_the_lock(engine: Engine, tmp_path: Path) -> None:
    lock = LeaderLock(engine, "listen:/data/LeadChangeEvent")

    assert lock.try_acquire() and lock.held and lock.still_held()
    assert lock.lock_file == tmp_path / "baton.sqlite3.listen-data-LeadChangeEvent.lock"
    assert lock.lock_file.exists()
    assert another_process_asks_for(engine, "listen:/data/LeadChangeEvent") == "refused"
    lock.release()
    assert not lock.held
    assert another_process_asks_for(engine, "listen:/data/LeadChangeEvent") == "held"


def test_while_another_process_leads_this_one_stands_by_and_takes_over_when_it_is_killed(engine: Engine) -> None:
    lock = LeaderLock(engine, "inbox")
    with another_process_holding(engine, "inbox") as holder:
        assert not lock.try_acquire() and not lock.held
        assert LeaderLock(engine, "scheduler").try_acquire(), "another name is another lock"
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        assert lock.try_acquire()


def test_the_locks_of_one_name_in_one_process_share_the_lead_until_the_last_lets_go(engine: Engine) -> None:
    first, second = LeaderLock(engine, "outbox-flusher"), LeaderLock(engine, "outbox-flusher")
    assert first.try_acquire() and second.try_acquire()

    first.release()
    assert another_process_asks_for(engine, "outbox-flusher") == "refused"
    second.release()
    assert another_process_asks_for(engine, "outbox-flusher") == "held"


def test_a_lock_dropped_without_release_lets_go(engine: Engine) -> None:
    assert LeaderLock(engine, "scheduler").try_acquire()  # dropped at once: the process no longer leads

    assert another_process_asks_for(engine, "scheduler") == "held"


def test_an_in_memory_database_has_one_process_which_always_leads() -> None:
    engine = make_engine("sqlite://")
    first, second = LeaderLock(engine, "inbox"), LeaderLock(engine, "inbox")

    assert first.try_acquire() and second.try_acquire() and first.lock_file is None
