"""Every dead letter in the store: the copy a worker writes when a message dies, written again in the background
while the database is away, and RabbitMQ's dead-letter queues moved into the store for the letters whose copy
was never written (the worker stopped first).

A dead-lettered message sits in its queue's ``.XQ`` queue (7 days) and, as a copy, in the store, which is what
``baton dlq`` lists and replays. Both writers add the copy once per message id (``add_dead_letter_once``), so
the two paths, in either order and however often, leave one letter per message.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from adapters.dead_letter_queues import QueuedDeadLetter, RabbitmqDeadLetterQueues
from baton.chains import queue_names
from baton.settings import Settings
from kernel.ports.operations import DeadLetterRepository, NewDeadLetter
from messages import routing_id_for

log = structlog.get_logger(__name__)
REASON_LIMIT = 4000
MAX_COPY_PAUSE_S = 60.0  # the copy is tried at least this often while the database is away
PENDING_LIMIT = 10_000  # letters waiting for their copy in one process; beyond it, RabbitMQ's copy must do
DEAD_LETTER_QUEUE_SUFFIX = ".XQ"


def routing_ids_of(args: Iterable[Any]) -> list[str]:
    """The routing ids a stage message's arguments carry (its records' events, or its assignment logs)."""
    ids: list[str] = []
    for argument in args:
        if isinstance(argument, dict):
            for context in argument.get("contexts") or []:
                event = context.get("event") if isinstance(context, dict) else None
                if isinstance(event, dict) and event.get("source") and event.get("source_event_id"):
                    ids.append(routing_id_for(str(event["source"]), str(event["source_event_id"])))
            for entry in argument.get("logs") or []:
                if isinstance(entry, dict) and entry.get("routing_id"):
                    ids.append(entry["routing_id"])
    return ids


def letter_of(message: dict[str, Any], reason: str, failed_at: datetime) -> NewDeadLetter:
    """The store copy of a dramatiq message (``Message.asdict()``, or the body RabbitMQ dead-lettered)."""
    return NewDeadLetter(
        message_id=str(message["message_id"]),
        queue_name=str(message["queue_name"]),
        actor_name=str(message["actor_name"]),
        stage=str(message["actor_name"]),
        routing_ids=routing_ids_of(message.get("args") or []),
        message=message,
        reason=reason[:REASON_LIMIT],
        failed_at=failed_at,
    )


# the worker's copy, written again until it is stored -----------------------------------------------------
class StoreCopyRetries:
    """Dead letters whose store copy could not be written (the database is away), written again on a thread
    of their own with pauses growing from ``first_pause_s`` to ``max_pause_s`` (at most a minute), for as long as the process
    lives. A letter this process never manages to store is still in RabbitMQ's ``.XQ`` queue, and
    ``baton dlq list`` moves it into the store."""

    def __init__(self, dead_letters: Callable[[], DeadLetterRepository], first_pause_s: float = 1.0,
                 max_pause_s: float = 60.0, limit: int = PENDING_LIMIT):
        self._dead_letters = dead_letters
        longest = min(max_pause_s, MAX_COPY_PAUSE_S)
        self._pauses = (min(first_pause_s, longest), longest)
        self._limit = limit
        self._pending: deque[NewDeadLetter] = deque()
        self._lock = threading.Lock()
        self._storing = threading.Lock()  # one writer at a time: the thread, or ``stop``
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, letter: NewDeadLetter) -> None:
        with self._lock:
            if len(self._pending) >= self._limit:
                log.error("dead_letter_copy_dropped", message_id=letter.message_id, pending=len(self._pending),
                          why="too many copies waiting; the message is in RabbitMQ's dead-letter queue, "
                              "baton dlq list moves it into the store")
                return
            self._pending.append(letter)
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="dead-letter copies", daemon=True)
                self._thread.start()

    def store_pending(self) -> int:
        """Tries each waiting letter once, in order, stopping at the first failure; returns how many wait."""
        with self._storing:
            return self._store_pending()

    def _store_pending(self) -> int:
        while True:
            with self._lock:
                if not self._pending:
                    return 0
                letter = self._pending[0]
            try:
                letter_id, added = self._dead_letters().add_dead_letter_once(letter)
            except Exception as exc:  # noqa: BLE001 - the database is still away: the next round tries again
                with self._lock:
                    waiting = len(self._pending)
                log.warning("dead_letter_copy_waiting", message_id=letter.message_id, pending=waiting,
                            error=f"{type(exc).__name__}: {str(exc)[:200]}")
                return waiting
            with self._lock:
                self._pending.popleft()
            log.error("dead_lettered", message_id=letter.message_id, stage=letter.stage, dead_letter_id=letter_id,
                      reason=letter.reason, stored_late=True, already_stored=not added)

    def last_try(self) -> int:
        """A worker shutting down: one more try now; returns how many copies are still unwritten (they are
        tried on while the process lives; their messages are in RabbitMQ's dead-letter queues)."""
        left = self.store_pending()
        if left:
            log.critical("dead_letter_copies_left_in_rabbitmq", pending=left,
                         why="unwritten when the worker stopped; baton dlq list moves RabbitMQ's copies into the store")
        return left

    def stop(self) -> int:
        """The last try, then no more (the process is going away); returns how many copies are unwritten."""
        self._stopping.set()
        return self.last_try()

    def _run(self) -> None:
        pause = self._pauses[0]
        while not self._stopping.wait(pause):
            waiting = self.store_pending()
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
            pause = self._pauses[0] if waiting == 0 else min(pause * 2, self._pauses[1])
        with self._lock:
            self._thread = None


# RabbitMQ's dead-letter queues into the store ------------------------------------------------------------
@dataclass
class MoveReport:
    """What ``move_dead_letter_queues`` did: letters added to the store, messages already there (only
    removed from RabbitMQ), and messages left where they are."""

    added: list[int] = field(default_factory=list)
    already_stored: int = 0
    unreadable: list[str] = field(default_factory=list)


def dead_letter_queues(prefix: str) -> tuple[str, ...]:
    """The ``.XQ`` queue of every stage's queue."""
    return tuple(queue + DEAD_LETTER_QUEUE_SUFFIX for queue in queue_names(prefix))


def moved_reason(queued: QueuedDeadLetter) -> str:
    """What a letter moved from RabbitMQ can say about its failure: where and when it died, and the error of
    the attempt before the last (dramatiq keeps that one in the message; the last one died with the worker)."""
    death = queued.death or "dead-lettered"
    when = f" at {queued.died_at.isoformat()}" if queued.died_at else ""
    reason = (f"{death} into {queued.dead_letter_queue}{when} while its store copy could not be written; "
              f"moved into the store from RabbitMQ")
    options = queued.message.get("options")
    trace = options.get("traceback") if isinstance(options, dict) else None
    if isinstance(trace, str) and trace.strip():
        reason += f"; error before its last retry: {trace.strip().splitlines()[-1]}"
    return reason


def move_dead_letter_queues(queues: RabbitmqDeadLetterQueues, dead_letters: DeadLetterRepository, prefix: str,
                            clock: Callable[[], datetime]) -> MoveReport:
    """Moves the messages of the stages' ``.XQ`` queues into the store: each is added once per message id (a
    message whose letter is stored already, replayed or not, adds nothing) and acknowledged only after its
    row committed, so a crash in between leaves it in RabbitMQ to be moved again without a second letter."""
    report = MoveReport()

    def take(queued: QueuedDeadLetter) -> None:
        letter = letter_of(queued.message, moved_reason(queued), queued.died_at or clock())
        letter_id, added = dead_letters.add_dead_letter_once(letter)
        if added:
            report.added.append(letter_id)
            log.warning("dead_letter_moved_from_rabbitmq", message_id=letter.message_id, stage=letter.stage,
                        dead_letter_id=letter_id, queue=queued.dead_letter_queue)
        else:
            report.already_stored += 1

    drained = queues.drain(dead_letter_queues(prefix), take)
    report.unreadable = drained.unreadable
    return report


def move_from_rabbitmq(settings: Settings, dead_letters: DeadLetterRepository,
                       clock: Callable[[], datetime]) -> MoveReport | None:
    """``move_dead_letter_queues`` on the configured RabbitMQ; None on the embedded default (no dead-letter
    queues: a message that fails there is copied into the store by the process that ran it)."""
    if not settings.uses_rabbitmq:
        return None
    return move_dead_letter_queues(RabbitmqDeadLetterQueues(settings.broker_url), dead_letters,
                                   settings.queue_prefix, clock)
