"""A dry run: the whole decision chain, in process, on a copy of the team state; nothing is stored or written.

The stage handlers (classify, territory, match) and the assign stage's pure decision are called directly, not
through the queue: a dry run must not bump round-robin turns, sticky owners or caps, nor add outbox rows. The
copied team states advance record by record, as the real run would from the same starting point. Holds past a
team's deadline and workload changes of records Baton does not route are left out (they only matter for real).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.store import Transaction
from baton.ports import Ports
from baton.stages.assign import _decide, prepare, sticky_key
from baton.stages.classify import classify_batch
from baton.stages.common import record_facts
from baton.stages.match import match_batch
from baton.stages.territory import territory_batch
from messages import AssignmentLog, Outcome, RecordEvent, RoutingContext, StageBatch
from routing.dispatch import Plan, PlanKind
from routing.selection import TeamState

Sticky = dict[tuple[str, str], tuple[str, datetime]]


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

    ports: Ports
    batch_size: int
    report: DryRunReport = field(default_factory=DryRunReport)
    team_states: dict[str, TeamState] = field(default_factory=dict)
    sticky: Sticky = field(default_factory=dict)
    sticky_loaded: set[tuple[str, str]] = field(default_factory=set)
    unavailable: frozenset[str] | None = None
    on_decision: Callable[[AssignmentLog], None] | None = None

    def decide(self, events: list[RecordEvent], owners: dict[str, str | None]) -> None:
        for start in range(0, len(events), self.batch_size):
            batch = StageBatch(batch_id=uuid.uuid4().hex, enqueued_at=self.ports.clock(),
                               contexts=[RoutingContext(event=event) for event in events[start : start + self.batch_size]])
            for handler in (classify_batch, territory_batch, match_batch):
                batch = handler(batch, self.ports)
            self._assign(batch, owners)

    def _assign(self, batch: StageBatch, owners: dict[str, str | None]) -> None:
        prepared = prepare(batch, self.ports)
        now = self.ports.clock()
        self._load([(context, prepared.plans[context.routing_id], prepared.configs[context.routing_id])
                    for context in prepared.contexts])
        for context in prepared.contexts:
            plan, config = prepared.plans[context.routing_id], prepared.configs[context.routing_id]
            log, _ = _decide(context, plan, config, self.team_states, None, self.unavailable or frozenset(), now,
                             batch.enqueued_at, self.sticky)
            self.report.outcomes[log.outcome.value] += 1
            if self.on_decision is not None:
                self.on_decision(log)
            current = owners.get(context.event.record_id)
            if log.outcome is Outcome.ASSIGNED and log.owner_id and log.owner_id != current:
                self.report.moves.append(OwnerMove(context.event.record_id, current, log.owner_id, log.team))

    def _load(self, items: Iterable[tuple[RoutingContext, Plan, Any]]) -> None:
        """Reads (never locks or writes) the team states and sticky owners these records need, once each."""
        teams: set[str] = set()
        keys: set[tuple[str, str]] = set()
        for context, plan, config in items:
            teams |= plan.teams
            if plan.kind is PlanKind.SELECT and plan.team:
                key = sticky_key(config.team(plan.team), record_facts(context))
                if key:
                    keys.add((plan.team, key))
        for team in teams - set(self.team_states):
            self.team_states[team] = TeamState.model_validate(self.ports.store.team_state(team) or {})
        keys -= self.sticky_loaded
        if keys or self.unavailable is None:
            with self.ports.store.engine.connect() as connection:
                reader = Transaction(connection)
                self.sticky.update(reader.sticky_owners(keys))
                if self.unavailable is None:
                    self.unavailable = frozenset(reader.member_availability())
            self.sticky_loaded |= keys
