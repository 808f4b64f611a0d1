"""Group commit: concurrent submitters share rounds, each gets its own result or the round's error."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from baton.coalesce import Coalescer


def test_concurrent_items_share_rounds_and_each_gets_its_own_result() -> None:
    rounds: list[list[int]] = []
    gate = threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        if not rounds:
            gate.wait(5)  # hold the first round so the others pile up behind it
        rounds.append(list(items))
        return [item * 10 for item in items]

    coalescer: Coalescer[int, int] = Coalescer(run=run)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, coalescer.submit(i))) for i in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)

    assert results == {i: i * 10 for i in range(8)}
    assert sorted(item for round_ in rounds for item in round_) == list(range(8))
    assert len(rounds) < 8


def test_a_failed_round_raises_in_every_caller_of_that_round() -> None:
    def run(items: Sequence[int]) -> list[int]:
        raise RuntimeError("database is locked")

    coalescer: Coalescer[int, int] = Coalescer(run=run)
    with pytest.raises(RuntimeError, match="database is locked"):
        coalescer.submit(1)
    with pytest.raises(RuntimeError):
        coalescer.submit(2)
