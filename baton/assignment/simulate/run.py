"""Runs one set of records through the whole decision chain under the current config and under a new one.

Each side is a :class:`~baton.assignment.reassign.dry_run.DryRun` on its own copy of the stored team state (round-robin
turns, caps, sticky owners, availability toggles), so both start from where production is now and advance
record by record. Nothing is written: no decisions, no team state, no outbox rows, no synced-copy updates.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from adapters.reference import NoReferenceUpdates
from baton.assignment.ports import AssignmentPorts
from baton.assignment.reassign.dry_run import DryRun
from baton.assignment.simulate.fairness import Fairness, team_fairness
from baton.ports import Ports
from messages import AssignmentLog, Outcome, RecordEvent
from routing.config import OrgConfig

SIMULATED_VERSION = 0
SIDES = ("current", "new")


class FixedConfig:
    """A config provider that always serves one config (the candidate being simulated)."""

    def __init__(self, config: OrgConfig, version: int = SIMULATED_VERSION):
        self._config, self._version = config, version

    def current(self) -> tuple[int, OrgConfig]:
        return self._version, self._config

    def version(self, version: int) -> OrgConfig:
        return self._config


@dataclass(frozen=True)
class Decision:
    outcome: str
    owner_id: str | None
    team: str | None

    @classmethod
    def of(cls, log: AssignmentLog) -> Decision:
        owner = log.owner_id if log.outcome is Outcome.ASSIGNED else None
        return cls(log.outcome.value, owner, log.team)


@dataclass(frozen=True)
class OwnerChange:
    record_id: str
    current: Decision
    new: Decision


@dataclass
class Simulation:
    configs: dict[str, OrgConfig]
    decisions: dict[str, dict[str, Decision]] = field(default_factory=lambda: {side: {} for side in SIDES})
    rejected: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.decisions["current"])

    def outcomes(self, side: str) -> Counter[str]:
        return Counter(decision.outcome for decision in self.decisions[side].values())

    def per_member(self, side: str) -> Counter[str]:
        return Counter(d.owner_id for d in self.decisions[side].values() if d.owner_id)

    def per_team(self, side: str) -> Counter[str]:
        return Counter(d.team for d in self.decisions[side].values() if d.owner_id and d.team)

    def changes(self) -> list[OwnerChange]:
        current, new = self.decisions["current"], self.decisions["new"]
        return [OwnerChange(record_id, current[record_id], new[record_id])
                for record_id in current if current[record_id].owner_id != new[record_id].owner_id]

    def member_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for config in self.configs.values():
            for team in config.teams:
                for member in team.members:
                    if member.name:
                        names.setdefault(member.id, member.name)
        return names

    def member_teams(self) -> dict[str, list[str]]:
        teams: dict[str, set[str]] = {}
        for config in self.configs.values():
            for team in config.teams:
                for member in team.members:
                    teams.setdefault(member.id, set()).add(team.name)
        return {member: sorted(names) for member, names in teams.items()}

    def fairness(self, side: str) -> dict[str, Fairness]:
        """Per team of that side's config, from the records that team's selection assigned."""
        by_team: dict[str, Counter[str]] = {}
        for decision in self.decisions[side].values():
            if decision.owner_id and decision.team:
                by_team.setdefault(decision.team, Counter())[decision.owner_id] += 1
        return {team.name: team_fairness(by_team.get(team.name, Counter()),
                                         {member.id: member.weight for member in team.members})
                for team in self.configs[side].teams}


def simulate(events: Iterable[RecordEvent], ports: Ports, current: OrgConfig, new: OrgConfig,
             batch_size: int = 100) -> Simulation:
    """``ports`` read the store (team state, sticky owners, availability, reference data); its configs are the
    current side. Events with one record id twice count once (the last one)."""
    unique = list({event.record_id: event for event in events}.values())
    simulation = Simulation(configs={"current": current, "new": new})
    read_only = dataclasses.replace(AssignmentPorts.of(ports), reference_updates=NoReferenceUpdates())  # no synced-copy updates
    for side, configs in (("current", read_only.configs), ("new", FixedConfig(new))):
        decided = simulation.decisions[side]
        dry = DryRun(dataclasses.replace(read_only, configs=configs), batch_size,  # type: ignore[arg-type]
                     on_decision=lambda log, decided=decided: decided.__setitem__(log.record_id, Decision.of(log)))
        dry.decide(unique, {})
    return simulation


def counts_table(simulation: Simulation) -> list[dict[str, object]]:
    """One row per member who gets records on either side, or belongs to a team: current, new, change."""
    current, new = simulation.per_member("current"), simulation.per_member("new")
    names, teams = simulation.member_names(), simulation.member_teams()
    members = sorted(set(current) | set(new) | set(teams), key=lambda m: (-(new[m] + current[m]), m))
    return [{"member_id": member, "name": names.get(member, ""), "teams": teams.get(member, []),
             "current": current[member], "new": new[member], "change": new[member] - current[member]}
            for member in members]


def team_table(simulation: Simulation) -> list[dict[str, object]]:
    current, new = simulation.per_team("current"), simulation.per_team("new")
    names: Mapping[str, None] = dict.fromkeys(
        [t.name for c in simulation.configs.values() for t in c.teams] + [*current, *new])
    return [{"team": team, "current": current[team], "new": new[team], "change": new[team] - current[team]}
            for team in names]
