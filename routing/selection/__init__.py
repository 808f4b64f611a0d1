"""Owner selection: which member of a team gets a record now, and why the others did not."""

from __future__ import annotations

from routing.selection.engine import (
    PreviousOwner,
    drop_past_windows,
    received_manually,
    select_owner,
    taken_back,
)
from routing.selection.explain import Selection, SkippedCandidate, SkipReason
from routing.selection.state import (
    MemberState,
    TeamState,
    owner_changed,
    record_closed,
    record_opened,
    set_open_counts,
)

__all__ = [
    "MemberState",
    "PreviousOwner",
    "Selection",
    "SkipReason",
    "SkippedCandidate",
    "TeamState",
    "drop_past_windows",
    "owner_changed",
    "received_manually",
    "record_closed",
    "record_opened",
    "select_owner",
    "set_open_counts",
    "taken_back",
]
