"""Config texts the tests route with."""

from __future__ import annotations


def team_config(members: int = 3, team: str = "Inbound", **team_options: object) -> str:
    lines = ["teams:", f"  - name: {team}", "    members:"]
    for index in range(1, members + 1):
        lines.append(f'      - {{id: "005{index:012d}AAA", name: "Rep {index}"}}')
    for key, value in team_options.items():
        lines.append(f"    {key}: {value}")
    lines.append(f"default_team: {team}")
    return "\n".join(lines) + "\n"


def member_id(index: int) -> str:
    return f"005{index:012d}AAA"
