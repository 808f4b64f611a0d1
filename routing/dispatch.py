"""Where a record goes before any owner is picked: not at all, to a team, or to a fixed owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from routing.config import OrgConfig

BATON_CLIENT = "baton"


class PlanKind(StrEnum):
    SELECT = "select"
    NOT_ROUTED = "not_routed"
    HOLD = "hold"


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    team: str | None = None
    reasons: list[str] = field(default_factory=list)


def caused_by_baton(change_origin: str | None) -> bool:
    """Change events from Baton's own writes carry ``client=baton`` in their changeOrigin."""
    if not change_origin:
        return False
    return any(
        part.strip().lower() == f"client={BATON_CLIENT}"
        for part in change_origin.replace(";", ",").split(",")
    )


def plan_record(
    object_type: str, change_origin: str | None, territory_team: str | None, config: OrgConfig
) -> Plan:
    if caused_by_baton(change_origin):
        return Plan(PlanKind.NOT_ROUTED, reasons=["change made by Baton itself (changeOrigin client=baton)"])
    if territory_team:
        return Plan(PlanKind.SELECT, territory_team, [f"territory team {territory_team!r}"])
    if config.default_team:
        return Plan(PlanKind.SELECT, config.default_team, [f"default team {config.default_team!r}"])
    return Plan(PlanKind.HOLD, reasons=[f"no territory or default team for {object_type}"])
