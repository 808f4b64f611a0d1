"""dramatiq's ack retry loops, read from a worker's log.

When a worker thread's ack or nack raises a connection error, ``Worker.post_process_message`` (dramatiq
2.2.1, worker.py) logs "Failed to post_process_message(...)" and tries again every 5 s for as long as it
raises. ``_RabbitmqConsumer.ack`` removes the delivery tag from ``known_tags`` *before* the call that raises,
and each retry goes to the consumer thread's *current* consumer (a new connection and channel once the
consumer restarted, whose tags start again at 1). So a loop ends one of two ways: the tag is not among the
current consumer's known tags ("Failed to ack message: not in known tags", logged by the same thread right
away), or it is, the connection is open, and a ``basic_ack`` for that tag goes out on the newer channel,
where it acknowledges another delivery, silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

RETRY_DELAY_S = 5.0  # dramatiq.worker.POST_PROCESS_MESSAGE_RETRY_DELAY_SECS
SLACK_S = 0.5
RETRY, UNKNOWN_TAG = "Failed to post_process_message", "Failed to ack message: not in known tags"
TAG_UNKNOWN, OTHER_DELIVERY_ACKED, STILL_RETRYING = (
    "tag unknown to the current consumer", "acked a delivery of a newer channel", "still retrying")
LINE = re.compile(r"^\[(?P<at>\S+ \S+)\] \[PID \d+\] \[(?P<thread>[^\]]+)\] \[[^\]]+\] \[WARNING\] "
                  rf"(?P<what>{re.escape(RETRY)}|{re.escape(UNKNOWN_TAG)})(?:\((?P<message>.*)\) due to)?")


@dataclass(frozen=True)
class RetryLoop:
    """One thread's consecutive failed attempts to ack or nack one message, and how the loop ended."""

    thread: str
    first: datetime
    last: datetime
    attempts: int
    ending: str


def retry_loops(logs: Iterable[Path], now: datetime | None = None) -> list[RetryLoop]:
    """Every retry loop in the worker ``logs`` (one log a process: thread names repeat across processes)."""
    return [loop for log in logs for loop in _loops(_events(log), now or datetime.now())]


Event = tuple[datetime, str, str]  # at, what, the message retried ("" for an unknown tag)


def _events(log: Path) -> dict[str, list[Event]]:
    by_thread: dict[str, list[Event]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if match := LINE.match(line):
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f")
            by_thread.setdefault(match["thread"], []).append((at, match["what"], match["message"] or ""))
    return by_thread


def _loops(by_thread: dict[str, list[Event]], now: datetime) -> list[RetryLoop]:
    loops = []
    for thread, events in by_thread.items():
        start: datetime | None = None
        attempts = 0
        for index, (at, what, message) in enumerate(events):
            if what != RETRY:
                continue
            start, attempts = start or at, attempts + 1
            following = events[index + 1] if index + 1 < len(events) else None
            if following and _within_a_retry(at, following[0]) and following[1:] == (RETRY, message):
                continue
            loops.append(RetryLoop(thread, start, at, attempts, _ending(at, following, now)))
            start, attempts = None, 0
    return loops


def _within_a_retry(at: datetime, then: datetime) -> bool:
    return (then - at).total_seconds() <= RETRY_DELAY_S + SLACK_S


def _ending(last: datetime, following: Event | None, now: datetime) -> str:
    if following and following[1] == UNKNOWN_TAG and _within_a_retry(last, following[0]):
        return TAG_UNKNOWN
    return STILL_RETRYING if _within_a_retry(last, now) else OTHER_DELIVERY_ACKED
