"""What every ``baton`` command shares: the typer apps, the consoles, settings and exit codes."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from rich.console import Console
from rich.table import Table

from baton.chains import BATCH_ROUTING, ROUTING
from baton.settings import Settings
from kernel.errors import ConfigError
from kernel.ports.decisions import DecisionRepository
from routing.config import load_config_text

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
SYNC_LOCK = "reference-sync"
ROUTED_OUTCOMES = {"assigned", "held", "not_routed", "stale", "stopped"}
WAIT_POLL_S = 0.2

app = typer.Typer(help="Baton routes Salesforce records to owners.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Store and inspect org configs.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list, show and replay.", no_args_is_help=True)
member_app = typer.Typer(help="Members: availability, out of office, tags, team membership (audited).", no_args_is_help=True)
held_app = typer.Typer(help="Held records: list them, re-check them now.", invoke_without_command=True)
app.add_typer(config_app, name="config")
app.add_typer(dlq_app, name="dlq")
app.add_typer(member_app, name="member")
app.add_typer(held_app, name="held")

NON_TTY_WIDTH = 160
out = Console(width=None if sys.stdout.isatty() else NON_TTY_WIDTH)
err = Console(stderr=True, width=None if sys.stderr.isatty() else NON_TTY_WIDTH)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except Exception as exc:  # pydantic-settings reports which BATON_* variable is wrong
        err.print(f"[red]settings error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def say(line: str) -> None:
    """A plain diagnostic line on stderr: never wrapped or styled, so it can be grepped."""
    sys.stderr.write(line + "\n")


def print_config_problems(path: Path, error: ConfigError) -> None:
    for location, message in error.problems:
        where = location if location.startswith(str(path)) else f"{path}: {location}"
        say(f"{where}: {message}")


def read_config(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        say(f"{path}: cannot read: {exc.strerror}")
        raise typer.Exit(EXIT_USAGE) from None
    try:
        load_config_text(text, str(path))
    except ConfigError as exc:
        print_config_problems(path, exc)
        raise typer.Exit(EXIT_USAGE) from None
    return text


def run_embedded(broker: StubBroker, threads: int, timeout_s: float) -> None:
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        for stage in (*ROUTING.stages, *BATCH_ROUTING.stages):
            broker.join(broker.get_actor(stage.name).queue_name, timeout=int(timeout_s * 1000), fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def wait_for_logs(decisions: DecisionRepository, routing_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    logs: dict[str, dict[str, Any]] = {}
    while True:
        logs.update(decisions.assignment_logs([rid for rid in routing_ids if rid not in logs]))
        if len(logs) >= len(set(routing_ids)) or time.monotonic() > deadline:
            return logs
        time.sleep(WAIT_POLL_S)


def print_summary(logs: list[dict[str, Any]], rejected: int, failed: int, console: Console) -> None:
    owners = Counter((e.get("team") or "(direct owner)", e.get("owner_id")) for e in logs if e["outcome"] == "assigned")
    table = Table(title="Records per owner")
    table.add_column("team")
    table.add_column("owner")
    table.add_column("records", justify="right")
    for (team, owner), count in sorted(owners.items()):
        table.add_row(team, owner, str(count))
    console.print(table)
    teams = Counter(e.get("team") or "(direct owner)" for e in logs if e["outcome"] == "assigned")
    outcomes = Counter(e["outcome"] for e in logs)
    team_table = Table(title="Summary")
    team_table.add_column("what")
    team_table.add_column("records", justify="right")
    for team, count in sorted(teams.items()):
        team_table.add_row(f"team {team}", str(count))
    for outcome, count in sorted(outcomes.items()):
        team_table.add_row(outcome, str(count))
    team_table.add_row("rejected", str(rejected))
    team_table.add_row("failed", str(failed))
    console.print(team_table)
