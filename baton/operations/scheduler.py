"""The scheduler's rounds: one active process (leader lock), each round with the clock read once.

A round re-checks held records that are due, closes SLA timers whose deadline came (actioned, or breached:
``sla_breached`` is written back when the org config maps it, the record is read again from Salesforce and
reassigned through the router graph, and the team lead is told), logs out-of-office starts and ends and new cap windows (those that free capacity send every held
record to a re-check at once), and resumes bookings whose chain stood still between two steps for the grace
period (``baton/booking/resume.py``). Every so often it also moves RabbitMQ's dead-letter queues into the store
(``baton/dead_letters.py``), so a message whose store copy a worker could not write is listed by ``baton dlq``
even when nobody runs it within RabbitMQ's 7 days.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dramatiq
import sqlalchemy as sa
import structlog
from dramatiq import Broker

from adapters.files import build_event
from adapters.salesforce.rereads import RecordReader
from baton.assignment.holds import recheck_due_holds
from baton.assignment.writeback_facts import breach_writes
from baton.booking.resume import DEFAULT_GRACE, resume_stopped
from baton.configs import ConfigProvider
from baton.salesforce.ingest import enqueue
from kernel.clock import Clock
from kernel.errors import PermanentError, TransientError
from kernel.ports.bookings import BookingRepository
from kernel.ports.holds import HoldRepository, SlaTimer, SlaTimerRepository
from kernel.ports.outbox import OutboxRepository
from messages import ChangeType, RecordEvent, Source
from messages.notifications import Channel, Notification
from routing.config import OrgConfig
from routing.member_changes import member_changes
from routing.sla import Verdict, sla_verdict

log = structlog.get_logger(__name__)
SCHEDULER_LOCK = "scheduler"
REASSIGNED = "Reassigned through the router graph."
NO_SALESFORCE = "Not reassigned: no Salesforce connection to read the record again."
NOT_FOUND = "Not reassigned: the record was not found in Salesforce (deleted or merged)."


@dataclass
class RoundReport:
    held_rechecked: int = 0
    sla_actioned: int = 0
    sla_breached: int = 0
    reassigned: int = 0
    escalated: int = 0
    member_changes: int = 0
    calendar_changes: int = 0
    bookings_resumed: int = 0
    dead_letters_moved: int = 0


@dataclass
class Scheduler:
    holds: HoldRepository
    timers: SlaTimerRepository
    broker: Broker
    configs: ConfigProvider
    clock: Clock
    reader: Callable[[], RecordReader] | None = None  # None: no connected app, breached records stay put
    notify: Callable[[Notification], None] | None = None
    channels: Sequence[Channel] = ()
    batch_size: int = 100
    is_leader: Callable[[], bool] = lambda: True
    stopped: threading.Event = field(default_factory=threading.Event)
    last_round: datetime | None = None
    calendar_poll: Callable[[datetime], int] | None = None  # reads hosts' calendar changes back
    calendar_poll_interval_s: float = 60.0
    last_calendar_poll: datetime | None = None
    bookings: BookingRepository = field(kw_only=True)  # bookings whose chain stopped between steps are resumed
    booking_grace: timedelta = field(default=DEFAULT_GRACE, kw_only=True)
    dead_letter_sweep: Callable[[], int] | None = None  # moves RabbitMQ's .XQ queues into the store; how many added
    dead_letter_sweep_interval_s: float = 600.0
    last_dead_letter_sweep: datetime | None = None
    outbox: OutboxRepository | None = field(default=None, kw_only=True)  # a breach's sla_breached write-back

    def run(self, interval_s: float, after_round: Callable[[RoundReport], None] = lambda _: None) -> None:
        while not self.stopped.is_set():
            report = self.tick()
            if report is not None:
                after_round(report)
            self.stopped.wait(interval_s)

    def tick(self) -> RoundReport | None:
        try:
            if not self.is_leader():
                self.last_round = None
                return None
            return self._round(self.clock())
        except (TransientError, sa.exc.DBAPIError, dramatiq.errors.BrokerConnectionError) as exc:
            # the database, the broker or Salesforce is away: nothing was closed, the next round retries
            log.warning("scheduler_round_failed", error=str(exc))
            return None

    def _round(self, now: datetime) -> RoundReport:
        report = RoundReport()
        config = self._config()
        if config is not None:
            self._member_changes(config, now, report)
            self._check_slas(config, now, report)
        report.held_rechecked += recheck_due_holds(self.holds, self.broker, now, batch_size=self.batch_size)
        report.bookings_resumed = resume_stopped(self.bookings, self.broker, now, self.booking_grace)
        self._poll_calendars(now, report)
        self._sweep_dead_letter_queues(now, report)
        self.last_round = now
        if any(vars(report).values()):
            log.info("scheduler_round", **vars(report))
        return report

    def _poll_calendars(self, now: datetime, report: RoundReport) -> None:
        if self.calendar_poll is None or not _due(self.last_calendar_poll, now, self.calendar_poll_interval_s):
            return
        try:
            report.calendar_changes = self.calendar_poll(now)
        except (TransientError, PermanentError) as exc:
            log.warning("calendar_poll_failed", error=str(exc))  # the next poll reads from the stored tokens
        self.last_calendar_poll = now

    def _sweep_dead_letter_queues(self, now: datetime, report: RoundReport) -> None:
        if self.dead_letter_sweep is None or not _due(self.last_dead_letter_sweep, now, self.dead_letter_sweep_interval_s):
            return
        try:
            report.dead_letters_moved = self.dead_letter_sweep()
        except (TransientError, PermanentError) as exc:
            log.warning("dead_letter_sweep_failed", error=str(exc))  # the messages stay in RabbitMQ: the next sweep
        self.last_dead_letter_sweep = now

    def _config(self) -> OrgConfig | None:
        try:
            return self.configs.current()[1]
        except PermanentError:
            return None

    def _member_changes(self, config: OrgConfig, now: datetime, report: RoundReport) -> None:
        changes = member_changes(config, self.last_round or now, now)
        for change in changes:
            log.info(change.kind.value, team=change.team, member_id=change.member_id, at=change.at.isoformat(),
                     detail=change.detail)
        report.member_changes = len(changes)
        if any(change.frees_capacity for change in changes):
            self.holds.recheck_all(now)

    def _check_slas(self, config: OrgConfig, now: datetime, report: RoundReport) -> None:
        timers = self.timers.due(now)
        if not timers:
            return
        activity = self.timers.latest_activity(timers)
        verdicts = {timer.routing_id: sla_verdict(timer, activity.get(timer.routing_id), now) for timer in timers}
        actioned = [rid for rid, verdict in verdicts.items() if verdict is Verdict.ACTIONED]
        breached = [timer for timer in timers if verdicts[timer.routing_id] is Verdict.BREACHED]
        self.timers.close(actioned, "actioned", now)
        report.sla_actioned = len(actioned)
        if not breached:
            return
        if self.outbox is not None:
            flagged = self.outbox.queue_facts(breach_writes(config, breached, now))
            if flagged:
                log.info("sla_breached_written_back", writes=len(flagged))
        actions = self._reassign(breached, now)
        for timer in breached:
            action = actions[timer.routing_id]
            log.warning("sla_breached", routing_id=timer.routing_id, record_id=timer.record_id, team=timer.team,
                        owner_id=timer.owner_id, due_at=timer.due_at.isoformat(), action=action)
            report.escalated += self._escalate(config, timer, action)
        self.timers.close([timer.routing_id for timer in breached], "breached", now)
        report.sla_breached = len(breached)
        report.reassigned = sum(action == REASSIGNED for action in actions.values())

    def _reassign(self, breached: Sequence[SlaTimer], now: datetime) -> dict[str, str]:
        """Routes each breached record again (a REASSIGN of its current state, read from Salesforce); returns
        what was done per routing id. The event id ``sla-<routing id>`` makes a repeated round route it once.
        Salesforce being away (a transient error) leaves the timers open for the next round."""
        if self.reader is None:
            return {timer.routing_id: NO_SALESFORCE for timer in breached}
        try:
            reader = self.reader()
        except PermanentError as exc:  # refused login: say so in the escalation rather than stop the scheduler
            log.error("sla_reassign_login_failed", error=str(exc))
            return {timer.routing_id: f"Not reassigned: Salesforce refused the login ({exc})." for timer in breached}
        events: list[RecordEvent] = []
        actions: dict[str, str] = {}
        by_object: dict[str, list[SlaTimer]] = {}
        for timer in breached:
            by_object.setdefault(timer.object_type, []).append(timer)
        for object_type, timers in by_object.items():
            try:
                records = {str(record.get("Id", ""))[:15]: record for record in
                           reader.by_ids(object_type, [timer.record_id for timer in timers])}
            except PermanentError as exc:
                actions.update({timer.routing_id: f"Not reassigned: the record could not be read ({exc})."
                                for timer in timers})
                continue
            for timer in timers:
                record = records.get(timer.record_id[:15])
                if record is None:
                    actions[timer.routing_id] = NOT_FOUND
                    continue
                events.append(_reassign_event(timer, record, now))
                actions[timer.routing_id] = REASSIGNED
        enqueue(self.broker, events, self.batch_size, now)
        return actions

    def _escalate(self, config: OrgConfig, timer: SlaTimer, action: str) -> int:
        team = next((team for team in config.teams if team.name == timer.team), None)
        if team is None or not team.lead or self.notify is None:
            return 0
        for channel in self.channels:
            self.notify(Notification(
                notification_id=f"{timer.routing_id}:sla:{channel}", kind="sla_escalation", channel=channel,
                recipient_id=team.lead,
                values={"object_type": timer.object_type, "record_id": timer.record_id, "team": timer.team,
                        "owner_id": timer.owner_id, "assigned_at": timer.assigned_at.isoformat(),
                        "sla_minutes": str(team.sla_minutes), "action": action}))
        return 1


def _reassign_event(timer: SlaTimer, record: dict[str, object], now: datetime) -> RecordEvent:
    fields = {key: value for key, value in record.items() if key != "Id"}
    event = build_event(timer.object_type, record["Id"], fields, f"sla-{timer.routing_id}", now, ChangeType.REASSIGN)
    return event.model_copy(update={"source": Source.API, "commit_timestamp": now})


def _due(last: datetime | None, now: datetime, interval_s: float) -> bool:
    """A chore done every ``interval_s`` is due: never done yet, or done that long ago."""
    return last is None or (now - last).total_seconds() >= interval_s
