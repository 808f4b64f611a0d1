"""The held record's transition table: every transition it allows and what it refuses."""

from __future__ import annotations

import pytest

from routing.lifecycles import IllegalTransition
from routing.lifecycles.hold import HOLD, HoldStatus

H = HoldStatus
ALLOWED = {
    (H.HELD, H.RECHECKING), (H.HELD, H.RELEASED),
    (H.RECHECKING, H.RECHECKING), (H.RECHECKING, H.HELD), (H.RECHECKING, H.RELEASED),
    (H.QUEUED, H.RELEASED), (H.RECHECKING, H.QUEUED),
}


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_each_transition_of_the_table_is_allowed(current: HoldStatus, to: HoldStatus) -> None:
    assert HOLD.allows(current, to)
    HOLD.check(current.value, to.value)


@pytest.mark.parametrize(("current", "to"), [(current, to) for current in H for to in H if (current, to) not in ALLOWED])
def test_every_other_transition_is_refused(current: HoldStatus, to: HoldStatus) -> None:
    assert not HOLD.allows(current, to)
    with pytest.raises(IllegalTransition, match=f"hold: no transition from '{current}' to '{to}'"):
        HOLD.check(current, to)


def test_a_released_hold_is_final_and_only_a_re_check_holds_it_again() -> None:
    assert HOLD.final == {H.RELEASED} and HOLD.initial == H.HELD
    assert HOLD.sources(H.HELD) == {H.RECHECKING}
    assert HOLD.sources(H.RELEASED) == {H.HELD, H.RECHECKING, H.QUEUED}
