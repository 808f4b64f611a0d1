"""The change-event listener of one Streaming API channel (``baton listen`` runs one per channel).

Replicas elect one active listener per channel through a LeaderLock; the others wait and retry.
The leader subscribes from the stored replay id, enqueues each connect response's events as record
events, and stores the newest replay id only after the broker confirmed the enqueue: a crash in
between redelivers the events (their routing ids make the redelivery harmless). A replay id older
than the retention window is replaced by a SOQL catch-up (records modified since the stored
position's time), then a subscription to new events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from dramatiq import Broker
from simple_salesforce import Salesforce

from adapters.salesforce.change_events import (
    Intake,
    ReRead,
    entity_for_channel,
    event_time,
    parse_delivery,
)
from adapters.salesforce.partial_updates import complete_updates
from adapters.salesforce.rereads import RecordReader, SoqlRecordReader, record_events
from adapters.salesforce.streaming import REPLAY_NEW, BayeuxClient, StreamEvent, client_for
from adapters.store import Store
from adapters.store.leader import LeaderLock
from baton.assignment.reassign.reject import field_rejections
from baton.configs import ConfigProvider
from baton.salesforce.ingest import enqueue
from baton.salesforce.lost_events import record_lost_window
from kernel.clock import Clock, utc_now
from kernel.errors import ConfigError, InputError, PermanentError, ReplayIdInvalid, SessionInvalid
from kernel.ports.operations import StreamPosition
from messages import RecordEvent, Source
from routing.config import OrgConfig

log = structlog.get_logger(__name__)

STANDBY_RETRY_S = 5.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_SESSION_REFUSALS = 3  # fresh logins in a row that Salesforce refuses before giving up
CATCH_UP_OVERLAP = timedelta(minutes=1)  # SystemModstamp is taken before the commit: look a little further back
LOCK_PREFIX = "listen:"
STOP_JOIN_S = 5.0  # a long poll lasts up to 110 s; on stop, wait this long for it, then leave


def backoff_s(failures: int, low_s: float = BACKOFF_MIN_S, high_s: float = BACKOFF_MAX_S) -> float:
    return min(high_s, low_s * 2 ** max(0, failures - 1))


def resume_plan(position: StreamPosition | None) -> tuple[int, datetime | None]:
    """(replay id to subscribe from, time to catch up from by query or None)."""
    if position is None:
        return REPLAY_NEW, None
    if position.replay_id is not None:
        return position.replay_id, None
    return REPLAY_NEW, position.event_at or position.updated_at


class ChannelListener:
    def __init__(
        self,
        channel: str,
        store: Store,
        broker: Broker,
        login: Callable[[], Salesforce],
        *,
        batch_size: int = 100,
        clock: Clock = utc_now,
        integration_user_id: str | None = None,
        after_enqueue: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        standby_s: float = STANDBY_RETRY_S,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ):
        self.channel = channel
        self.store = store
        self.broker = broker
        self.stop = stop or threading.Event()
        self.enqueued = 0
        self._login = login
        self._batch_size = batch_size
        self._clock = clock
        self._integration_user_id = integration_user_id
        self._configs = ConfigProvider(store.administration)  # its writeback: fields the loop guard counts as Baton's
        self._after_enqueue = after_enqueue
        self._standby_s = standby_s
        self._backoff = (backoff_min_s, backoff_max_s)
        self._failures = 0
        self._refusals = 0

    @property
    def _log(self) -> structlog.typing.FilteringBoundLogger:
        return log.bind(channel=self.channel)

    # election ----------------------------------------------------------------------------------
    def run(self) -> None:
        """Until ``stop`` is set: win the channel's lock, then listen while holding it.

        Raises ConfigError when settings are wrong (unknown channel, refused login): retrying cannot help.
        """
        standing_by = False
        while not self.stop.is_set():
            lock = LeaderLock(self.store.engine, LOCK_PREFIX + self.channel)
            try:
                won = lock.try_acquire()
            except sa.exc.SQLAlchemyError as exc:  # the database is away: the election waits for it
                self._log.warning("listener_election_failed", error=str(exc))
                self.stop.wait(self._standby_s)
                continue
            if not won:
                if not standing_by:
                    self._log.info("listener_standby", reason="another process holds the channel")
                standing_by = True
                self.stop.wait(self._standby_s)
                continue
            standing_by = False
            try:
                self._lead(lock)
            finally:
                lock.release()

    def _lead(self, lock: LeaderLock) -> None:
        while not self.stop.is_set() and lock.still_held():
            try:
                self._session(lock)
            except ConfigError:
                raise
            except SessionInvalid as exc:
                self._refusals += 1
                self._log.warning("listener_session_refused", error=str(exc), refusals=self._refusals)
                if self._refusals >= MAX_SESSION_REFUSALS:
                    raise ConfigError([("BATON_SALESFORCE_CLIENT_ID",
                                        f"Salesforce refused {self._refusals} fresh sessions: {exc}")]) from exc
            except Exception as exc:  # network, 5xx, broker or database trouble: back off, resume from the store
                self._failures += 1
                delay_s = backoff_s(self._failures, *self._backoff)
                self._log.warning("listener_retry", error=str(exc), error_type=type(exc).__name__,
                                  failures=self._failures, retry_in_s=delay_s)
                self.stop.wait(delay_s)

    # one Bayeux session ------------------------------------------------------------------------
    def _session(self, lock: LeaderLock) -> None:
        salesforce = self._login()
        client, reader = client_for(salesforce), SoqlRecordReader(salesforce, self.store.describes)
        try:
            client.handshake()
            self._refusals = 0
            self._subscribe(client, reader)
            while not self.stop.is_set() and lock.still_held():
                events = client.connect()
                self._failures = 0
                if events:
                    self._process(events, reader)
        finally:
            client.disconnect()

    def _subscribe(self, client: BayeuxClient, reader: RecordReader) -> None:
        position = self.store.administration.stream_position(self.channel)
        replay_id, catch_up_from = resume_plan(position)
        try:
            client.subscribe(self.channel, replay_id)
        except ReplayIdInvalid as exc:
            self._log.warning("replay_id_expired", replay_id=replay_id, error=str(exc))
            client.subscribe(self.channel, REPLAY_NEW)
            catch_up_from = (position.event_at or position.updated_at) if position else None
        if position is None or catch_up_from is not None:
            self._catch_up(reader, catch_up_from)

    def _catch_up(self, reader: RecordReader, since: datetime | None) -> None:
        """Subscribed to new events only: route what changed since ``since``, then remember where we are."""
        started = self._clock()
        entity = entity_for_channel(self.channel)
        if since is not None and entity is None:
            record_lost_window(self.store.administration, self.channel, since, started)
        elif since is not None:
            reread = ReRead(entity, (), since - CATCH_UP_OVERLAP, None, Source.CHANGE_EVENT, None)  # type: ignore[arg-type]
            events = record_events(Intake(rereads=[reread]), reader, started, self._integration_user_id,
                                   skip_unreadable=True, written=self._configs.fields_baton_writes())
            self._log.info("catch_up", object_type=entity, since=since.isoformat(), records=len(events))
            self._enqueue(events, started)
        self.store.administration.save_stream_position(self.channel, None, started, started)

    # events ------------------------------------------------------------------------------------
    def _process(self, events: Sequence[StreamEvent], reader: RecordReader) -> None:
        received = self._clock()
        intake = Intake()
        for event in events:
            try:
                intake.merge(parse_delivery(event.channel, event.data, received))
            except InputError as exc:
                self._log.error("change_event_rejected", replay_id=event.replay_id, reason=str(exc))
        routed = record_events(intake, reader, received, self._integration_user_id, skip_unreadable=True,
                               written=self._configs.fields_baton_writes())
        completed = complete_updates(routed, self.store, reader)
        self._enqueue(field_rejections(completed, self._config(), self.store.decisions, received), received)
        self._save_usage(reader, received)
        replay_ids = [event.replay_id for event in events if event.replay_id is not None]
        if replay_ids:
            times = [t for t in (event_time(event.data) for event in events) if t is not None]
            self.store.administration.save_stream_position(self.channel, max(replay_ids),
                                                           max(times, default=received), received)

    def _config(self) -> OrgConfig | None:
        try:
            return self._configs.current()[1]
        except PermanentError:
            return None

    def _save_usage(self, reader: RecordReader, now: datetime) -> None:
        usage = reader.api_usage() if isinstance(reader, SoqlRecordReader) else None
        if usage is not None:
            self.store.administration.save_api_usage(usage[0], usage[1], now)

    def _enqueue(self, events: list[RecordEvent], now: datetime) -> None:
        if not events:
            return
        enqueue(self.broker, events, self._batch_size, now)
        self.enqueued += len(events)
        self._log.info("change_events_enqueued", events=len(events))
        if self._after_enqueue is not None:
            self._after_enqueue(len(events))


def run_listeners(listeners: Sequence[ChannelListener], stop: threading.Event,
                  join_timeout_s: float = STOP_JOIN_S) -> list[ConfigError]:
    """Runs each listener on its own thread until ``stop`` is set or one fails for good.

    Returns the settings errors that stopped listeners. Threads still inside a long poll after
    ``join_timeout_s`` are left behind (daemon threads): nothing is lost, since a position is
    stored only after its events were enqueued.
    """
    failures: list[ConfigError] = []

    def run(listener: ChannelListener) -> None:
        try:
            listener.run()
        except ConfigError as exc:
            failures.append(exc)
        except Exception:
            log.exception("listener_crashed", channel=listener.channel)
        finally:
            stop.set()

    threads = [threading.Thread(target=run, args=(listener,), name=f"listen {listener.channel}", daemon=True)
               for listener in listeners]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(join_timeout_s)
    return failures
