"""Group commit: concurrent callers' items run together in one call, so one lock and one commit serve all."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Entry(Generic[In, Out]):
    item: In
    done: bool = False
    result: Out | None = None
    error: BaseException | None = None


@dataclass
class Coalescer(Generic[In, Out]):
    """``submit`` blocks until ``run`` has handled the caller's item, together with whatever else is waiting.

    Whoever finds the coalescer idle leads one round: it takes every pending item (its own included),
    calls ``run`` once, and hands each caller its own result (or the shared exception). Then the next
    waiting caller whose item is not done leads the next round, so no thread serves others forever.
    """

    run: Callable[[Sequence[In]], Sequence[Out]]
    max_items: int = 64
    _condition: threading.Condition = field(default_factory=threading.Condition)
    _pending: list[_Entry[In, Out]] = field(default_factory=list)
    _busy: bool = False

    def submit(self, item: In) -> Out:
        entry: _Entry[In, Out] = _Entry(item)
        with self._condition:
            self._pending.append(entry)
            while not entry.done:
                if self._busy:
                    self._condition.wait()
                    continue
                self._busy = True
                work = self._pending[: self.max_items]
                del self._pending[: self.max_items]
                self._condition.release()
                try:
                    self._run_round(work)
                finally:
                    self._condition.acquire()
                    self._busy = False
                    self._condition.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _run_round(self, work: list[_Entry[In, Out]]) -> None:
        try:
            results = self.run([entry.item for entry in work])
        except BaseException as exc:  # every caller in the round sees the failure and retries on its own
            for entry in work:
                entry.error, entry.done = exc, True
            return
        for entry, result in zip(work, results, strict=True):
            entry.result, entry.done = result, True
