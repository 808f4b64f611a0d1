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
    return Scheduler(
        store=ports.store, broker=current.broker, configs=ports.configs, clock=ports.clock, reader=reader,
        notify=(lambda notification: enqueue_notifications(current.broker, [notification])) if channels else None,
        channels=channels, batch_size=settings.batch_size,
        is_leader=leader_check(LeaderLock(ports.store.engine, SCHEDULER_LOCK)),
    )
