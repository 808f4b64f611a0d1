"""Operator commands: simulate a config change, purge old data."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from adapters.store.retention import purge as purge_store
from baton.assignment.simulate.report import as_document, print_tables
from baton.assignment.simulate.run import FixedConfig
from baton.assignment.simulate.run import simulate as run_simulation
from baton.assignment.simulate.sources import file_records, soql_records
from baton.bootstrap import open_store, reference_data, salesforce_login
from baton.configs import ConfigProvider
from baton.logging import configure_logging
from baton.ports import Ports, RecordingSink, UnconfiguredOwnerWriter
from baton.settings import Settings
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    err,
    load_settings,
    out,
    read_config,
    say,
)
from kernel.clock import utc_now
from kernel.errors import ConfigError, InputError, PermanentError, TransientError
from messages import RecordEvent
from routing.config import load_config_text

AGE_PATTERN = re.compile(r"^(\d+)([dhw])$")
AGE_UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """``90d``, ``12w``, ``36h``; BadParameter naming the value otherwise."""
    parsed = AGE_PATTERN.match(text.strip())
    if parsed is None or int(parsed[1]) == 0:
        raise typer.BadParameter(f"{text!r}: expected a positive age like 90d, 12w or 36h")
    return timedelta(**{AGE_UNITS[parsed[2]]: int(parsed[1])})


@app.command()
def simulate(
    config: Annotated[Path, typer.Option("--config", help="the new org config (YAML) to compare")],
    records: Annotated[Path | None, typer.Option(help="JSONL or CSV file of records")] = None,
    soql: Annotated[str | None, typer.Option(help="SOQL query whose records to simulate (Bulk API 2.0)")] = None,
    object_type: Annotated[str | None, typer.Option("--object", help="object type of a CSV file's records")] = None,
    current_config: Annotated[Path | None, typer.Option(
        "--current", help="compare against this config file instead of the store's current version")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
    plot: Annotated[Path | None, typer.Option(help="draw records per member, current vs new, to this PNG")] = None,
) -> None:
    """Route records under the current config and under NEW without writing anything, and compare: records per
    member and team, records whose owner would change, fairness per team. Exit 0, 1 when any record was
    rejected, 2 for a usage or config error."""
    if (records is None) == (soql is None):
        say("name exactly one of --records FILE or --soql QUERY")
        raise typer.Exit(EXIT_USAGE)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    new = load_config_text(read_config(config), str(config))
    try:
        store = open_store(settings)
        provider = ConfigProvider(store.administration, settings.config_refresh_ms)
        current = (load_config_text(read_config(current_config), str(current_config))
                   if current_config else provider.current()[1])
    except (ConfigError, PermanentError) as exc:
        say(f"{exc}; or pass --current FILE")
        raise typer.Exit(EXIT_USAGE) from None
    ports = Ports(store=store, configs=FixedConfig(current, 1) if current_config else provider,
                  owner_writer=UnconfiguredOwnerWriter(), sink=RecordingSink(), clock=utc_now,
                  reference=reference_data(settings, store))
    now = utc_now()
    try:
        events, rejected = _read(settings, records, soql, object_type, now)
        simulation = run_simulation(events, ports, current, new, settings.batch_size)
    except (InputError, ConfigError, ValueError) as exc:
        say(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except TransientError as exc:
        say(f"Salesforce: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    simulation.rejected = rejected
    for line in rejected:
        say(f"rejected: {line}")
    if as_json:
        sys.stdout.write(json.dumps(as_document(simulation)) + "\n")
    else:
        print_tables(simulation, out)
    if plot is not None:
        from baton.assignment.simulate.plot import plot_distribution

        try:
            plot_distribution(simulation, plot)
        except InputError as exc:
            say(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        err.print(f"plot written to {plot}")
    raise typer.Exit(EXIT_REJECTED if rejected else EXIT_OK)


def _read(settings: Settings, records: Path | None, soql: str | None, object_type: str | None,
          now: datetime) -> tuple[list[RecordEvent], list[str]]:
    if records is not None:
        return file_records(records, object_type, now)
    login = salesforce_login(settings)
    if login is None:
        raise InputError("--soql needs a Salesforce org: set BATON_SALESFORCE_CLIENT_ID and _SECRET")
    from adapters.salesforce.bulk import BulkClient

    events: list[RecordEvent] = []
    rejected: list[str] = []
    for page_events, page_rejected in soql_records(BulkClient(login(), settings.bulk_poll_ms), soql or "", now):
        events.extend(page_events)
        rejected.extend(page_rejected)
    return events, rejected


@app.command()
def purge(
    older_than: Annotated[str, typer.Option("--older-than", help="age cut-off: 90d, 12w or 36h")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be removed")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="counts as one JSON object")] = False,
) -> None:
    """Remove assignment logs, decisions, dead letters, finished outbox rows and jobs, removed people in the
    synced copy, bookings, pools' calibration credits and calendar sync tokens older than the cut-off (with the
    names and emails they hold)."""
    age = parse_age(older_than)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    cutoff = utc_now() - age
    counts = purge_store(store.engine, cutoff, dry_run=dry_run)
    if as_json:
        sys.stdout.write(json.dumps({"cutoff": cutoff.isoformat(), "dry_run": dry_run, "rows": counts}) + "\n")
        return
    verb = "would remove" if dry_run else "removed"
    for name, count in counts.items():
        out.print(f"{name}: {verb} {count}")
    err.print(f"cut-off {cutoff.isoformat()} ({older_than}); {verb} {sum(counts.values())} row(s)")

