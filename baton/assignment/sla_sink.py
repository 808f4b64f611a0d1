"""Opens an SLA timer for every record assigned to a team with ``sla_minutes`` (beside the log stream)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.logstream.entries import StreamEntry
from baton.configs import ConfigProvider
from baton.ports import AssignmentSink
from kernel.errors import PermanentError
from kernel.ports.holds import SlaTimer, SlaTimerRepository
from messages import AssignmentLog, Outcome, Source
from routing.config import OrgConfig
from routing.sla import sla_due

BATCH = Source.BATCH.value


def timers_for(logs: Sequence[AssignmentLog], config: OrgConfig) -> list[SlaTimer]:
    """A timer per record assigned to a team with an SLA, except from batch reassignment jobs."""
    teams = {team.name: team for team in config.teams if team.sla_minutes is not None}
    timers = []
    for entry in logs:
        team = teams.get(entry.team or "")
        if team is None or entry.outcome is not Outcome.ASSIGNED or not entry.owner_id or entry.source == BATCH:
            continue
        due = sla_due(team, entry.decided_at)
        if due is not None:
            timers.append(SlaTimer(entry.routing_id, entry.object_type, entry.record_id, team.name, entry.owner_id,
                                   entry.decided_at, due))
    return timers


@dataclass
class SlaTimerSink:
    """Stores the SLA timers (only when some team has an SLA: no extra database round trip otherwise), then
    publishes to ``inner``. A failed write fails the write-back stage before anything was published or
    notified, and the stage is retried; timers are keyed by routing id, so a retry opens each once."""

    inner: AssignmentSink
    configs: ConfigProvider
    timers: SlaTimerRepository

    def publish(self, logs: Sequence[AssignmentLog]) -> None:
        try:
            _, config = self.configs.current()
        except PermanentError:
            config = None
        if config is not None:
            self.timers.open(timers_for(logs, config))
        self.inner.publish(logs)

    def publish_entries(self, entries: Sequence[StreamEntry]) -> None:
        self.inner.publish_entries(entries)
