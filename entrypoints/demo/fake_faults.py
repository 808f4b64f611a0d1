"""How the fake Salesforce and fake Google Calendar fail: like the real services, sometimes after the fact.

A call can be refused before anything happens (``refused``: 503, 429, a lock...), or the write can be carried
out and then the answer lost: answered 5xx (``applied_then_5xx``), the connection closed with no answer at all
(``applied_then_dropped``), or answered only after a delay (``slow``; past the client's timeout this too is an
unknown outcome). Reads can only be refused or slow. With ``error_share`` set, each call draws a fault at that
rate (seeded), every kind as likely as any other; ``next_outcomes(...)`` queues exact outcomes for the next
writes. What was injected is counted in ``injected`` by kind (a refusal by its status or error code).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

REFUSED = "refused"
APPLIED_THEN_5XX = "applied_then_5xx"
APPLIED_THEN_DROPPED = "applied_then_dropped"
SLOW = "slow"
LET_THROUGH = "ok"  # a queued outcome that lets one write through untouched
WRITE_FAULTS = (REFUSED, APPLIED_THEN_5XX, APPLIED_THEN_DROPPED, SLOW)
READ_FAULTS = (REFUSED, SLOW)
DEFAULT_SLOW_ANSWER_S = (2.0, 8.0)  # the fault runs' Calendar timeout (5 s) falls inside: some slow answers time out

Answer = tuple[int, Any]


@dataclass(frozen=True)
class Fault:
    """What happens to one call: ``kind`` (one of ``WRITE_FAULTS``), ``label`` (what ``injected`` counts;
    for a refusal its status or error code) and, for a slow answer, how long it waits."""

    kind: str
    label: str
    delay_s: float = 0.0

    @property
    def applies(self) -> bool:
        """Whether the call is carried out (every kind but a refusal)."""
        return self.kind != REFUSED


@dataclass
class FaultyService:
    """The fault settings and counts both fakes share; a fake names its refusals and says how it answers them."""

    error_share: float = 0.0
    injected: Counter[str] = field(default_factory=Counter)
    queued_outcomes: deque[str] = field(default_factory=deque)
    slow_answer_s: tuple[float, float] = DEFAULT_SLOW_ANSWER_S
    random: random.Random = field(default_factory=lambda: random.Random(7))

    def refusal_labels(self) -> Sequence[str]:
        """What a drawn refusal can be (status codes or error codes), as ``injected`` counts them."""
        raise NotImplementedError

    def refusal(self, fault: Fault) -> Answer:
        """The service's answer refusing a call (status and body)."""
        raise NotImplementedError

    def lost_answer(self) -> Answer:
        """The 5xx answer to a call that was carried out all the same."""
        raise NotImplementedError

    def respond(self, handler: BaseHTTPRequestHandler, lock: threading.Lock, write: bool,
                carry_out: Callable[[], Answer], send: Callable[[int, Any], None], faultable: bool = True) -> None:
        """Draws this call's fault, carries the call out (``carry_out``, under ``lock``) unless it is refused,
        and answers as the fault has it (``send``, without the lock: a slow answer holds up no other call)."""
        with lock:
            fault = self.draw_fault(write) if faultable else None
            answer = carry_out() if fault is None or fault.applies else self.refusal(fault)
        deliver(handler, fault, answer, send, self.lost_answer)

    def next_outcomes(self, *kinds: str) -> None:
        """The next writes end this way, in order: ``applied_then_5xx``, ``applied_then_dropped``, ``slow``,
        ``refused`` (the first refusal label) or ``ok``."""
        unknown = set(kinds) - {*WRITE_FAULTS, LET_THROUGH}
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; known: {[*WRITE_FAULTS, LET_THROUGH]}")
        self.queued_outcomes.extend(kinds)

    def draw_fault(self, write: bool, refusals: Sequence[str] = ()) -> Fault | None:
        """This call's fault: the next queued outcome (writes only), else a random draw at ``error_share``;
        a refusal is one of ``refusals`` (by default ``refusal_labels()``)."""
        labels = refusals or self.refusal_labels()
        if write and self.queued_outcomes:
            kind = self.queued_outcomes.popleft()
            return None if kind == LET_THROUGH else self._fault(kind, labels[0])
        if not (self.error_share and self.random.random() < self.error_share):
            return None
        kind = self.random.choice(WRITE_FAULTS if write else READ_FAULTS)
        return self._fault(kind, self.random.choice(labels))

    def _fault(self, kind: str, refusal: str) -> Fault:
        label = refusal if kind == REFUSED else kind
        self.injected[label] += 1
        return Fault(kind, label, self.random.uniform(*self.slow_answer_s) if kind == SLOW else 0.0)


def deliver(handler: BaseHTTPRequestHandler, fault: Fault | None, answer: Answer,
            send: Callable[[int, Any], None], lost_answer: Callable[[], Answer]) -> None:
    """Sends ``answer`` (the refusal, for a refused call; else what the call did) as ``fault`` has it: replaced by
    ``lost_answer()``, never sent (the connection closed), or sent after a delay. Call it without the fake's lock."""
    if fault is not None and fault.kind == APPLIED_THEN_DROPPED:
        drop_connection(handler)
        return
    if fault is not None and fault.kind == APPLIED_THEN_5XX:
        answer = lost_answer()
    if fault is not None and fault.kind == SLOW:
        time.sleep(fault.delay_s)
    try:
        send(*answer)
    except OSError:  # the client gave up waiting (its timeout) and closed the connection
        handler.close_connection = True


def drop_connection(handler: BaseHTTPRequestHandler) -> None:
    """Closes the connection without a byte of an answer (the server finishes the request and hangs up)."""
    handler.close_connection = True
