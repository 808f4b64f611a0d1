"""A delay node: the record waits N minutes after its event before the graph goes on (held in the store, with
when its wait ends); the scheduler's round after that time routes it, also in a new process over the same store;
before it, nothing is assigned. ``baton why`` shows the wait on the decision's path."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.store import make_engine
from baton import runtime
from baton.assignment.ports import AssignmentPorts
from baton.assignment.pull import pull
from baton.configs import ConfigProvider
from baton.operations.scheduler import Scheduler
from baton.operations.why import record_trace
from tests.support.configs import member_id
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline, running_pipeline

REP_1 = member_id(1)
CONFIG = f"""teams:
  - name: Inbound
    members: [{{id: "{REP_1}"}}]
graphs:
  Lead:
    nodes:
      start: {{kind: trigger, next: let_the_form_owner_act}}
      let_the_form_owner_act: {{kind: delay, minutes: 30, next: to_inbound}}
      to_inbound: {{kind: assign_team, team: Inbound}}
"""
EVENT = lead_event(1)
EVENT_AT = EVENT.event_time()


@dataclasses.dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def with_clock(pipeline: Pipeline, at: datetime) -> FakeClock:
    clock = FakeClock(at)
    pipeline.app.ports = dataclasses.replace(pipeline.app.ports, clock=clock)
    return clock


def tick(pipeline: Pipeline, clock: FakeClock) -> int:
    """One scheduler round at the fake clock's time, then the stages run; how many holds it re-checked."""
    scheduler = Scheduler(pipeline.store.holds, pipeline.store.sla_timers, pipeline.broker,
                          ConfigProvider(pipeline.store.administration, 0), clock, bookings=pipeline.store.bookings)
    report = scheduler.tick()
    assert report is not None
    pipeline.drain()
    return report.held_rechecked


def outcome(pipeline: Pipeline) -> tuple[str, str | None]:
    log = pipeline.store.decisions.assignment_logs([EVENT.routing_id])[EVENT.routing_id]
    return log["outcome"], log["owner_id"]


def delay(pipeline: Pipeline) -> FakeClock:
    clock = with_clock(pipeline, EVENT_AT + timedelta(minutes=1))
    pipeline.apply(CONFIG)
    pipeline.send([EVENT])
    pipeline.drain()
    return clock


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'baton.sqlite3'}"


@pytest.fixture
def first(stub_runtime: runtime.Runtime, store_url: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(store_url)) as pipeline:
        yield pipeline


def test_a_delayed_record_waits_held_with_the_end_of_its_wait(first: Pipeline) -> None:
    delay(first)

    [held] = first.store.holds.held()
    assert outcome(first) == ("held", None)
    assert held.recheck_at == EVENT_AT + timedelta(minutes=30) and held.status == "held"
    assert held.reason.startswith("delayed: waiting 30 min after the event")
    assert first.writer.written == []


def test_it_is_not_distributed_before_its_time_and_is_once_the_clock_passes_it(first: Pipeline) -> None:
    clock = delay(first)

    clock.now = EVENT_AT + timedelta(minutes=29)
    assert tick(first, clock) == 0
    assert outcome(first) == ("held", None)

    clock.now = EVENT_AT + timedelta(minutes=30, seconds=1)
    assert tick(first, clock) == 1
    assert outcome(first) == ("assigned", REP_1)
    assert first.store.holds.held() == []
    assert [change.record_id for change in first.writer.written] == [EVENT.record_id]
    document = record_trace(EVENT.record_id, first.store.operations.record_trace(EVENT.record_id))
    path = document["decisions"][0]["stages"]["assign"]["path"]
    assert [step["outcome"] for step in path] == ["routed", "waited", "assign"]
    assert path[1]["reason"].startswith("waited 30 min after the event")


def test_a_re_check_before_its_time_keeps_it_waiting(first: Pipeline) -> None:
    clock = delay(first)
    first.store.holds.recheck_all(clock.now)  # someone became available: every hold is looked at again

    assert tick(first, clock) == 1
    [held] = first.store.holds.held()
    assert outcome(first) == ("held", None) and held.recheck_at == EVENT_AT + timedelta(minutes=30)


def test_a_new_process_over_the_same_store_distributes_it(stub_runtime: runtime.Runtime, store_url: str) -> None:
    with running_pipeline(stub_runtime, make_engine(store_url)) as before_restart:
        delay(before_restart)
        assert outcome(before_restart) == ("held", None)

    with running_pipeline(stub_runtime, make_engine(store_url)) as after_restart:  # new store, ports, queues
        clock = with_clock(after_restart, EVENT_AT + timedelta(minutes=31))
        assert tick(after_restart, clock) == 1
        assert outcome(after_restart) == ("assigned", REP_1)
        assert [change.record_id for change in after_restart.writer.written] == [EVENT.record_id]



def test_a_wait_leading_to_a_pull_team_queues_the_record_for_a_pull(first: Pipeline) -> None:
    clock = with_clock(first, EVENT_AT + timedelta(minutes=1))
    first.apply(CONFIG.replace("  - name: Inbound\n", "  - name: Inbound\n    method: pull\n"))
    first.send([EVENT])
    first.drain()
    clock.now = EVENT_AT + timedelta(minutes=31)

    assert tick(first, clock) == 1
    [waiting] = first.store.holds.held()
    assert (waiting.status, waiting.team) == ("queued", "Inbound")
    pulled = pull("Inbound", REP_1, AssignmentPorts.of(first.app.ports))
    assert pulled.log is not None and outcome(first) == ("assigned", REP_1)
