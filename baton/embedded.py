"""The embedded default's web process does the work it accepts: it drains the store's inbox.

One process drains a database's inbox at a time: the holder of the ``inbox`` leader lock (on a SQLite file, a
file lock beside it; ``adapters.store.leader``). While it holds it, the process runs the stage actors' worker
threads on its in-process broker, the outbox flusher and the scheduler, and every ``POLL_S`` claims the pending
messages no running drainer holds: at start that is everything accepted and not finished (after a restart or a
``kill -9``), later the messages other processes stored. Another web process on the same database does not
drain: it stores what it accepts into the inbox, leaves the work to the holder, says so in its log, and takes
over when the holder stops (as replicas of the flusher and the scheduler stand by).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field

import structlog
from dramatiq import Worker
from dramatiq.errors import QueueNotFound

from adapters.store.leader import LeaderLock
from baton.bootstrap import build_flusher, build_scheduler
from baton.inbox import InboxBroker
from baton.runtime import Runtime
from kernel.ports.inbox import InboxMessage
from kernel.ports.operations import NewDeadLetter
from routing.lifecycles.inbox import InboxStatus

log = structlog.get_logger(__name__)
INBOX_LOCK = "inbox"
POLL_S = 1.0
CLAIM_LIMIT = 500
WORKER_TIMEOUT_MS = 100
STOP_TIMEOUT_MS = 10_000  # a message still running then is run again by the next drainer


@dataclass
class EmbeddedWork:
    """The inbox's drainer in this process: ``start`` takes the drain lock (or stands by), ``stop`` ends it."""

    app: Runtime
    poll_s: float = POLL_S
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    lock: LeaderLock = field(init=False)
    draining: bool = False
    stopped: threading.Event = field(default_factory=threading.Event)
    _worker: Worker | None = None
    _poller: threading.Thread | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stops: list[threading.Event] = field(default_factory=list)
    _standing_by_told: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.app.broker, InboxBroker):
            raise TypeError("the embedded web process's broker stores into the inbox (bootstrap(inbox=True))")
        self.broker: InboxBroker = self.app.broker
        self.lock = LeaderLock(self.app.ports.store.engine, INBOX_LOCK)

    def start(self) -> None:
        """Drains at once when the lock is free (what was accepted and not finished is queued before this
        returns), else stands by; then keeps claiming (or trying the lock) every ``poll_s``."""
        self.step()
        self._poller = threading.Thread(target=self._poll, name="baton-inbox", daemon=True)
        self._poller.start()

    def step(self) -> int:
        """One round: take the lock if it is free, then claim and queue the waiting messages; how many."""
        if self.draining and not self.lock.still_held():  # PostgreSQL: the lock's connection is gone
            log.error("inbox_drain_lock_lost", run=self.run_id)
            self._end()
        if not self.draining:
            if not self.lock.try_acquire():
                self._tell_standing_by()
                return 0
            self._begin()
        claimed = 0
        while not self.stopped.is_set():
            batch = self.broker.inbox.claim(self.run_id, CLAIM_LIMIT)
            for message in batch:
                self._queue(message)
            claimed += len(batch)
            if len(batch) < CLAIM_LIMIT:
                break
        if claimed:
            log.info("inbox_claimed", messages=claimed, run=self.run_id)
        return claimed

    def stop(self) -> None:
        """Stops claiming, the flusher, the scheduler and the workers (what still runs after ``STOP_TIMEOUT_MS``
        is run again by the next drainer), then gives the lock back."""
        self.stopped.set()
        if self._poller is not None:
            self._poller.join(STOP_TIMEOUT_MS / 1000)
        self._end()

    def _end(self) -> None:
        for stop in self._stops:
            stop.set()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_MS / 1000)
        if self._worker is not None:
            self._worker.stop(timeout=STOP_TIMEOUT_MS)
        self._stops, self._threads, self._worker = [], [], None
        if self.draining:
            self.broker.drainer = None
            self.broker.flush_all()  # what was not finished stays pending in the inbox for the next run
            self.broker.forget_delays()
            self.draining = False
            self.lock.release()
            log.info("inbox_drainer_stopped", run=self.run_id)

    def _begin(self) -> None:
        settings = self.app.settings
        self.run_id = uuid.uuid4().hex  # a new run: it claims what every earlier one left pending
        self.broker.drainer = self.run_id
        self.draining = True
        self._worker = Worker(self.broker, worker_threads=settings.worker_threads, worker_timeout=WORKER_TIMEOUT_MS)
        self._worker.start()
        flusher = build_flusher(self.app)
        scheduler = build_scheduler(self.app)
        self._stops += [flusher.stopped, scheduler.stopped]
        for name, target in (("baton-flusher", flusher.run),
                             ("baton-scheduler", lambda: scheduler.run(settings.scheduler_interval_s))):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("inbox_draining", run=self.run_id, pending=self.broker.inbox.pending(),
                 lock_file=str(self.lock.lock_file or ""))

    def _queue(self, message: InboxMessage) -> None:
        try:
            self.broker.queue_claimed(message)
        except QueueNotFound:  # a stage this version no longer has: kept as a dead letter, not run
            self._dead_letter(message, f"no stage {message.actor_name!r} on queue {message.queue_name}")
        except Exception as exc:  # noqa: BLE001 - an undecodable body: kept as a dead letter, not run
            self._dead_letter(message, f"cannot read the stored message: {type(exc).__name__}: {exc}")

    def _dead_letter(self, message: InboxMessage, reason: str) -> None:
        now = self.app.ports.clock()
        try:
            stored = json.loads(message.body)
        except ValueError:
            stored = {"body": message.body}
        letter_id = self.app.ports.store.administration.add_dead_letter(NewDeadLetter(
            message_id=message.message_id, queue_name=message.queue_name, actor_name=message.actor_name,
            stage=message.actor_name, routing_ids=[], message=stored, reason=reason, failed_at=now))
        self.broker.inbox.finish(message.message_id, InboxStatus.DEAD_LETTERED, now)
        log.error("dead_lettered", message_id=message.message_id, stage=message.actor_name,
                  dead_letter_id=letter_id, reason=reason)

    def _poll(self) -> None:
        while not self.stopped.wait(self.poll_s):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - the database is away: the next round claims what waits
                log.warning("inbox_claim_failed", error=str(exc))

    def _tell_standing_by(self) -> None:
        if self._standing_by_told:
            return
        self._standing_by_told = True
        log.warning("inbox_drained_by_another_process", lock_file=str(self.lock.lock_file or INBOX_LOCK),
                    detail="another Baton process on this database drains its inbox; this one stores what it "
                           "accepts there for it, and takes over when it stops")
