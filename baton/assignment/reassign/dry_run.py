"""A dry run: the whole decision chain, in process, on a copy of the team state; nothing is stored or written.

The stage handlers (classify, territory, match) and the assign stage's own decision (``decide_record``: selection,
holds past a team's deadline, workload changes of records Baton does not route) are called directly, not through
the queue: a dry run must not bump round-robin turns, sticky owners or caps, nor add outbox rows. The copied
state advances record by record, as the real run's does from the same starting point, so a real run that decides
the records in the same order (one worker thread, or one message) gives each record the owner predicted here.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from baton.assignment.assign import (
    DecisionState,
    decide_record,
    hosted_meetings,
    needs,
    prepare,
)
from baton.assignment.chain import through_match
from baton.assignment.ports import AssignmentPorts
from kernel.ports.decisions import RecordKey, StickyKey
from messages import AssignmentLog, Outcome, RecordEvent, RoutingContext, StageBatch
from routing.selection import TeamState


@dataclass(frozen=True)
class OwnerMove:
    record_id: str
    from_owner: str | None
    to_owner: str
    team: str | None


@dataclass
class DryRunReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    moves: list[OwnerMove] = field(default_factory=list)

    def per_owner(self) -> dict[str, tuple[int, int]]:
        """Owner -> (records that would move to them, records that would move away from them)."""
        gains = Counter(move.to_owner for move in self.moves)
        losses = Counter(move.from_owner or "(none)" for move in self.moves)
        return {owner: (gains[owner], losses[owner]) for owner in sorted(set(gains) | set(losses))}


@dataclass
class DryRun:
    """Decides pages of events against one evolving copy of the stored team, sticky and availability state."""

    ports: AssignmentPorts
    batch_size: int
    report: DryRunReport = field(default_factory=DryRunReport)
    state: DecisionState = field(default_factory=lambda: DecisionState({}, {}, frozenset(), {}))
    seen: set[RecordKey] = field(default_factory=set)
    sticky_loaded: set[StickyKey] = field(default_factory=set)
    availability_loaded: bool = False
    on_decision: Callable[[AssignmentLog], None] | None = None

    def decide(self, events: list[RecordEvent], owners: dict[str, str | None]) -> None:
        for start in range(0, len(events), self.batch_size):
            batch = StageBatch(batch_id=uuid.uuid4().hex, enqueued_at=self.ports.clock(),
                               contexts=[RoutingContext(event=event) for event in events[start : start + self.batch_size]])
            self._assign(through_match(batch, self.ports), owners)

    def _assign(self, batch: StageBatch, owners: dict[str, str | None]) -> None:
        prepared = prepare(batch, self.ports)
        now = self.ports.clock()
        items = [(context, prepared) for context in prepared.contexts]
        decisions = self.ports.decisions
        with decisions.reader() as reader:
            unknown = {(c.event.object_type, c.event.record_id) for c, _ in items} - self.seen
            self.state.latest.update(reader.record_states(unknown))
            self.seen |= unknown
            wanted = needs(items, self.state.latest)
            self.state.sticky.update(reader.sticky_owners(wanted.sticky_keys - self.sticky_loaded))
            self.sticky_loaded |= wanted.sticky_keys
            unread = {name: count for name, count in wanted.meetings.items() if name not in self.state.meetings}
            self.state.meetings.update(hosted_meetings(reader, unread, now))
            if not self.availability_loaded:
                self.state.unavailable = frozenset(reader.unavailable_members())
                self.availability_loaded = True
        for team in wanted.teams - set(self.state.team_states):  # its own connection: after the reader's
            self.state.team_states[team] = TeamState.model_validate(decisions.team_state(team) or {})
        for context, item in items:
            log = decide_record(context, item, self.state, now, None, wanted.workload.get(context.routing_id)).log
            self.report.outcomes[log.outcome.value] += 1
            if self.on_decision is not None:
                self.on_decision(log)
            current = owners.get(context.event.record_id)
            if log.outcome is Outcome.ASSIGNED and log.owner_id and log.owner_id != current:
                self.report.moves.append(OwnerMove(context.event.record_id, current, log.owner_id, log.team))
