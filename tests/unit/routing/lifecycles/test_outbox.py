"""The outbox row's lifecycle as a transition table: what may follow what, and which rows may supersede."""

from __future__ import annotations

import pytest

from routing.lifecycles import IllegalTransition
from routing.lifecycles.outbox import ATTEMPT_OUTCOMES, OUTBOX, SUPERSEDING, OutboxStatus

S = OutboxStatus


def test_a_row_starts_pending_and_a_write_attempt_ends_it_or_leaves_it_pending() -> None:
    assert OUTBOX.initial is S.PENDING
    assert all(OUTBOX.allows(S.PENDING, outcome) for outcome in ATTEMPT_OUTCOMES)
    assert OUTBOX.allows(S.PENDING, S.PENDING)  # tried again later, or marked in flight


def test_only_a_failed_row_comes_back_and_only_to_pending() -> None:
    assert OUTBOX.final == {S.SENT, S.REJECTED, S.UNCHANGED, S.NOT_CONFIGURED, S.SUPERSEDED, S.WITHDRAWN}
    assert OUTBOX.sources(S.PENDING) == {S.PENDING, S.FAILED}
    assert not OUTBOX.allows(S.FAILED, S.SENT)


@pytest.mark.parametrize("final", sorted(OUTBOX.final))
def test_nothing_follows_a_final_status(final: OutboxStatus) -> None:
    with pytest.raises(IllegalTransition, match="no transition"):
        OUTBOX.check(final, S.PENDING)


def test_a_row_gives_way_only_to_a_newer_write_that_is_on_its_way_or_written() -> None:
    """A newer decision that Salesforce refused, or that failed, does not hold back an older owner."""
    assert SUPERSEDING == {S.PENDING, S.SENT, S.UNCHANGED, S.NOT_CONFIGURED}
    assert OUTBOX.sources(S.SUPERSEDED) == {S.PENDING}
