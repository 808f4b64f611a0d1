"""The backlog alarm: when owners wait too long for Salesforce, someone is told once per crossing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from baton import runtime
from baton.bootstrap import build_flusher
from baton.chains import NOTIFY
from baton.notify.notifier import backlog_notifications
from baton.salesforce.backlog import BacklogAlarm, BacklogAlert, Crossing, crossing
from baton.salesforce.flusher import Flusher
from kernel.clock import utc_now
from kernel.ports.outbox import Backlog
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.fake_notifications import Webhook, webhook_server
from tests.support.outbox_windows import SteppedClock
from tests.support.pipeline import Pipeline

HOUR = timedelta(hours=1)
AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
LEAD = "005000000000009AAA"


@pytest.mark.parametrize(("raised", "age", "expected"), [
    (False, timedelta(minutes=59), None), (False, HOUR, Crossing.RAISED), (True, 5 * HOUR, None),
    (True, timedelta(minutes=59), Crossing.CLEARED), (False, timedelta(0), None),
])
def test_the_alarm_changes_only_when_the_oldest_write_crosses_the_threshold(
        raised: bool, age: timedelta, expected: Crossing | None) -> None:
    assert crossing(raised, age, HOUR) is expected


def waiting_since(minutes_ago: int, rows: int = 3) -> Backlog:
    return Backlog(rows, AT - timedelta(minutes=minutes_ago))


def test_an_alarm_tells_once_per_crossing_not_every_round() -> None:
    told: list[BacklogAlert] = []
    alarm = BacklogAlarm(HOUR, told.append)

    seen = [alarm.observe(waiting_since(30), AT), alarm.observe(waiting_since(61), AT),
            alarm.observe(waiting_since(62), AT), alarm.observe(waiting_since(600), AT),
            alarm.observe(None, AT), alarm.observe(None, AT), alarm.observe(waiting_since(75, rows=9), AT)]

    assert seen == [None, Crossing.RAISED, None, None, Crossing.CLEARED, None, Crossing.RAISED]
    assert [(alert.oldest_age, alert.rows) for alert in told] == [(timedelta(minutes=61), 3),
                                                                  (timedelta(minutes=75), 9)]


def test_a_notification_that_could_not_be_queued_is_tried_again_the_next_round() -> None:
    told: list[BacklogAlert] = []

    def notify(alert: BacklogAlert) -> None:
        if not told:
            told.append(alert)
            raise ConnectionError("broker unreachable")
        told.append(alert)

    alarm = BacklogAlarm(HOUR, notify)

    assert alarm.observe(waiting_since(61), AT) is None and not alarm.raised
    assert alarm.observe(waiting_since(62), AT) is Crossing.RAISED and alarm.raised
    assert len(told) == 2


def test_each_recipient_is_told_over_each_channel_how_long_the_oldest_owner_waited() -> None:
    alert = BacklogAlert(timedelta(hours=1, minutes=5, seconds=30), 12, HOUR, AT)

    notifications = backlog_notifications(alert, ["005A", "005B"], ["email", "slack"])

    assert [(n.recipient_id, n.channel) for n in notifications] == [
        ("005A", "email"), ("005A", "slack"), ("005B", "email"), ("005B", "slack")]
    assert {n.kind for n in notifications} == {"outbox_backlog"}
    assert notifications[0].values == {"rows": "12", "oldest_age": "1 h 05 min", "threshold": "1 h 00 min"}
    assert len({n.notification_id for n in notifications}) == 4


@pytest.fixture
def webhook() -> Iterator[tuple[Webhook, str]]:
    with webhook_server() as server:
        yield server


def flusher_with_alarm(pipeline: Pipeline, clock: SteppedClock, **settings: object) -> Flusher:
    """``baton flush``'s flusher (retry and alarm settings as given) on a clock the test steps; the pipeline's
    notify actor delivers with the same settings."""
    current = pipeline.app
    current.settings = current.settings.model_copy(update=settings)
    app = runtime.Runtime(current.settings, current.broker, dataclasses.replace(current.ports, clock=clock))
    return build_flusher(app, is_leader=lambda: True)


def test_the_flusher_tells_the_team_lead_once_when_owners_wait_an_hour_for_salesforce(
    pipeline: Pipeline, webhook: tuple[Webhook, str]
) -> None:
    """Salesforce answers 503 to every write for 90 minutes: one Slack message at the hour, not one a round;
    once the owners are written and new ones wait an hour again, one more."""
    hook, url = webhook
    pipeline.apply(team_config(members=2, lead=f'"{LEAD}"'))
    clock = SteppedClock(utc_now())
    flusher = flusher_with_alarm(pipeline, clock, notify_slack_webhook_url=url, outbox_alert_after_s=3_600)
    pipeline.writer.failures = 10_000
    pipeline.send([lead_event(1), lead_event(2)], batch_size=2)
    pipeline.route()

    start = clock()
    for minute in range(91):
        clock.advance_to(start + timedelta(minutes=minute))
        flusher.tick()
    pipeline.writer.failures = 0
    clock.advance_to(start + timedelta(minutes=100))
    flusher.tick()
    assert len(pipeline.writer.written) == 2 and flusher.alarm is not None and not flusher.alarm.raised
    pipeline.send([lead_event(3)])
    pipeline.route()
    pipeline.writer.failures = 10_000
    for minute in range(100, 200, 10):
        clock.advance_to(start + timedelta(minutes=minute))
        flusher.tick()
    pipeline.broker.join(pipeline.broker.get_actor(NOTIFY.name).queue_name, timeout=30_000, fail_fast=False)

    assert [post["text"].split(", the oldest")[0] for post in hook.posts] == [
        "Baton: 2 owner writes waiting for Salesforce", "Baton: 1 owner writes waiting for Salesforce"]
    assert "the oldest for 1 h 00 min (alert after 1 h 00 min)" in hook.posts[0]["text"]


def test_no_alarm_when_it_is_turned_off(pipeline: Pipeline) -> None:
    flusher = flusher_with_alarm(pipeline, SteppedClock(utc_now()), outbox_alert_after_s=0)

    assert flusher.alarm is None
