"""An inbox message's machine: pending until done or dead-lettered, both final."""

from __future__ import annotations

import pytest

from routing.lifecycles import IllegalTransition
from routing.lifecycles.inbox import INBOX, InboxStatus


def test_a_pending_message_ends_done_or_dead_lettered_once() -> None:
    assert INBOX.initial is InboxStatus.PENDING
    assert INBOX.final == {InboxStatus.DONE, InboxStatus.DEAD_LETTERED}
    assert INBOX.sources(InboxStatus.DONE) == INBOX.sources(InboxStatus.DEAD_LETTERED) == {InboxStatus.PENDING}


@pytest.mark.parametrize(("current", "to"), [("done", "dead_lettered"), ("dead_lettered", "done"), ("done", "pending")])
def test_a_finished_message_is_not_finished_again(current: str, to: str) -> None:
    with pytest.raises(IllegalTransition, match="inbox message"):
        INBOX.check(current, to)
