"""Builds this process's scheduler from its runtime: leader lock, record reader and notifications."""

from __future__ import annotations

from adapters.store.leader import LeaderLock
from baton import runtime
from baton.bootstrap import leader_check, salesforce_login
from baton.notify.wiring import configured_channels, enqueue_notifications
from baton.scheduling.scheduler import SCHEDULER_LOCK, Scheduler


def build_scheduler(current: runtime.Runtime) -> Scheduler:
    """One scheduler works at a time: a PostgreSQL advisory lock elects it (on SQLite it is this process)."""
    settings, ports = current.settings, current.ports
    login = salesforce_login(settings)
    reader = None
    if login is not None:
        from adapters.salesforce.rereads import SoqlRecordReader

        reader = lambda: SoqlRecordReader(login())
    channels = configured_channels(settings)
    calendar_poll = None
    if ports.calendar is not None:
        from baton.booking.calendar_sync import poll_calendars

        calendar_poll = lambda now: poll_calendars(ports, current.broker, now)  # noqa: E731
    return Scheduler(
        store=ports.store, broker=current.broker, configs=ports.configs, clock=ports.clock, reader=reader,
        calendar_poll=calendar_poll, calendar_poll_interval_s=settings.calendar_poll_interval_s,
        notify=(lambda notification: enqueue_notifications(current.broker, [notification])) if channels else None,
        channels=channels, batch_size=settings.batch_size,
        is_leader=leader_check(LeaderLock(ports.store.engine, SCHEDULER_LOCK)),
    )
