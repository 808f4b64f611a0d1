"""A simulation as a JSON document (for pipes) or as tables (for people)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from baton.assignment.simulate.run import SIDES, Simulation, counts_table, team_table

TABLE_CHANGES = 50


def as_document(simulation: Simulation) -> dict[str, Any]:
    return {
        "records": simulation.records,
        "rejected": simulation.rejected,
        "outcomes": {side: dict(sorted(simulation.outcomes(side).items())) for side in SIDES},
        "members": counts_table(simulation),
        "teams": team_table(simulation),
        "changes": [
            {"record_id": change.record_id,
             "current": asdict(change.current), "new": asdict(change.new)}
            for change in simulation.changes()
        ],
        "fairness": {side: {team: asdict(figures) for team, figures in simulation.fairness(side).items()}
                     for side in SIDES},
    }


def print_tables(simulation: Simulation, console: Console) -> None:
    members = Table(title=f"Records per member ({simulation.records} records)")
    for column in ("member", "name", "teams", "current", "new", "change"):
        members.add_column(column, justify="right" if column in ("current", "new", "change") else "left")
    for row in counts_table(simulation):
        members.add_row(str(row["member_id"]), str(row["name"]), ", ".join(row["teams"]),  # type: ignore[arg-type]
                        str(row["current"]), str(row["new"]), f"{row['change']:+d}")
    console.print(members)

    teams = Table(title="Records per team")
    for column in ("team", "current", "new", "change"):
        teams.add_column(column, justify="left" if column == "team" else "right")
    for row in team_table(simulation):
        teams.add_row(str(row["team"]), str(row["current"]), str(row["new"]), f"{row['change']:+d}")
    console.print(teams)

    fairness = Table(title="Fairness per team (count ÷ weighted target; CV of that; Gini of count ÷ weight)")
    for column in ("team", "config", "records", "max/target", "min/target", "CV", "Gini"):
        fairness.add_column(column, justify="left" if column in ("team", "config") else "right")
    for side in SIDES:
        for team, figures in simulation.fairness(side).items():
            fairness.add_row(team, side, str(figures.records), f"{figures.max_vs_target:.2f}",
                             f"{figures.min_vs_target:.2f}", f"{figures.cv:.3f}", f"{figures.gini:.3f}")
    console.print(fairness)

    changes = simulation.changes()
    table = Table(title=f"Records whose owner would change ({len(changes)})")
    for column in ("record", "current owner", "current team", "new owner", "new team"):
        table.add_column(column)
    for change in changes[:TABLE_CHANGES]:
        table.add_row(change.record_id, change.current.owner_id or f"({change.current.outcome})",
                      change.current.team or "", change.new.owner_id or f"({change.new.outcome})",
                      change.new.team or "")
    console.print(table)
    if len(changes) > TABLE_CHANGES:
        console.print(f"… and {len(changes) - TABLE_CHANGES} more (--json lists them all)")
    outcomes = {side: dict(sorted(simulation.outcomes(side).items())) for side in SIDES}
    console.print(f"outcomes: current {outcomes['current']}, new {outcomes['new']}")
