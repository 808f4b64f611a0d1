"""Commands over records and the store: check, config, route, dlq, held, scheduler, flush, db-upgrade."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from dramatiq.brokers.stub import StubBroker
from rich.table import Table

from adapters.files import Rejected, read_records
from adapters.store import Store
from adapters.store.operations import delivery_attempts
from baton.assignment.holds import recheck_due_holds
from baton.bootstrap import bootstrap, build_flusher, build_scheduler, open_store
from baton.configs import apply_config, check_config
from baton.dead_letters import move_from_rabbitmq
from baton.logging import configure_logging
from baton.operations.metrics.exposition import serve_process_metrics
from baton.operations.scheduler import RoundReport
from baton.salesforce.flusher import FLUSH_STAGE
from baton.salesforce.ingest import enqueue
from baton.salesforce.lost_events import LOST_STAGE
from baton.settings import Settings
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    config_app,
    dlq_app,
    err,
    held_app,
    load_settings,
    out,
    print_config_problems,
    print_summary,
    read_config,
    run_embedded,
    say,
    wait_for_logs,
)
from kernel.clock import utc_now
from kernel.errors import ConfigError, TransientError
from kernel.ports.operations import DeadLetterRepository
from messages import RecordEvent
from routing.config import load_config_text


def _checked_against_describes(path: Path, text: str, store: Store) -> None:
    """Exit 2, printing every problem with its path, when the config's write-back mapping does not fit the
    describes ``baton sync`` stored (a missing, wrong-typed or read-only field; an object never described)."""
    try:
        check_config(text, str(path), store.describes)
    except ConfigError as exc:
        print_config_problems(path, exc)
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def check(config: Annotated[Path, typer.Argument(help="org routing config (YAML)")]) -> None:
    """Validate a config; print every error with its path. Exit 2 when invalid.

    A config with a write-back mapping is also checked against the object describes `baton sync` stored (in
    the store of BATON_DATABASE_URL): every mapped field must exist, fit its fact and be updateable."""
    text = read_config(config)
    if load_config_text(text, str(config)).writeback:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        _checked_against_describes(config, text, open_store(settings))
    out.print(f"{config}: ok")


@config_app.command("apply")
def config_apply(config: Annotated[Path, typer.Argument(help="org routing config (YAML)")]) -> None:
    """Store a new config version; running workers pick it up without a restart. A write-back mapping that does
    not fit the stored describes is refused as `baton check` refuses it, and nothing is stored."""
    text = read_config(config)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    try:
        version, created = apply_config(store.administration, text, utc_now(), str(config), store.describes)
    except ConfigError as exc:
        print_config_problems(config, exc)
        raise typer.Exit(EXIT_USAGE) from None
    out.print(f"config version {version}" + ("" if created else " (unchanged)"))


@config_app.command("show")
def config_show(version: Annotated[int | None, typer.Option(help="a stored version")] = None) -> None:
    """Print the newest (or a given) stored config."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    configs = open_store(settings).administration
    stored = configs.config(version) if version else configs.latest_config()
    if stored is None:
        err.print("no config stored")
        raise typer.Exit(EXIT_REJECTED)
    err.print(f"# version {stored.version}, applied {stored.applied_at.isoformat()}")
    sys.stdout.write(stored.body)


def _read_events(path: Path, object_type: str | None) -> tuple[list[RecordEvent], list[Rejected]]:
    events: list[RecordEvent] = []
    rejected: list[Rejected] = []
    try:
        for item in read_records(path, object_type, utc_now()):
            (rejected if isinstance(item, Rejected) else events).append(item)  # type: ignore[arg-type]
    except (OSError, ValueError) as exc:
        say(f"{path}: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    for item in rejected:
        say(f"{path}:{item.line}: rejected: {item.reason}")
    return events, rejected


def _print_assignments(logs: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for entry in logs:
            sys.stdout.write(json.dumps(entry, separators=(",", ":")) + "\n")
        return
    table = Table(title="Assignments")
    for column in ("record", "object", "outcome", "owner", "team", "method", "why"):
        table.add_column(column)
    for entry in logs:
        table.add_row(entry["record_id"], entry["object_type"], entry["outcome"], entry.get("owner_id") or "-",
                      entry.get("team") or "-", entry.get("method") or "-", (entry.get("reasons") or ["-"])[-1])
    out.print(table)


@app.command()
def route(
    records: Annotated[Path, typer.Argument(help="JSONL or CSV file of records")],
    config: Annotated[Path | None, typer.Option(help="org config to apply first")] = None,
    object_type: Annotated[str | None, typer.Option("--object", help="object type of a CSV file's rows")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one assignment log object per line")] = False,
    batch_size: Annotated[int | None, typer.Option(help="records per queue message")] = None,
    timeout_s: Annotated[float, typer.Option(help="how long to wait for results")] = 300.0,
) -> None:
    """Route every record in a file through the pipeline and print each assignment and a summary."""
    if not records.exists():
        say(f"{records}: no such file")
        raise typer.Exit(EXIT_USAGE)
    if config is not None:
        read_config(config)
    settings = load_settings(config=config, batch_size=batch_size)
    events, rejected = _read_events(records, object_type)
    current = bootstrap(settings)
    if current.ports.store.administration.latest_config() is None:
        err.print("no routing config: pass --config FILE or run `baton config apply FILE`")
        raise typer.Exit(EXIT_USAGE)
    enqueue(current.broker, events, settings.batch_size, utc_now())
    routing_ids = [event.routing_id for event in events]
    if isinstance(current.broker, StubBroker):
        run_embedded(current.broker, settings.worker_threads, timeout_s)
        build_flusher(current).tick()
    found = wait_for_logs(current.ports.store.decisions, routing_ids, timeout_s if not isinstance(current.broker, StubBroker) else 0)
    seen: set[str] = set()
    logs = []
    for routing_id in routing_ids:
        if routing_id in found and routing_id not in seen:
            seen.add(routing_id)
            logs.append(found[routing_id])
    failed = len(set(routing_ids)) - len(logs)
    _print_assignments(logs, as_json)
    print_summary(logs, len(rejected), failed, err if as_json else out)
    raise typer.Exit(EXIT_REJECTED if rejected or failed else EXIT_OK)


def move_dead_letters_from_rabbitmq(settings: Settings, dead_letters: DeadLetterRepository) -> None:
    """Dead letters only RabbitMQ holds (their store copy failed) into the store first, so every one is listed
    and can be replayed; RabbitMQ trouble is reported and the store's letters are still listed."""
    try:
        report = move_from_rabbitmq(settings, dead_letters, utc_now)
    except TransientError as exc:
        err.print(f"warning: {exc}; dead letters only RabbitMQ holds are not included", markup=False)
        return
    if report is None:
        return
    if report.added:
        err.print(f"moved {len(report.added)} dead letter(s) from RabbitMQ's dead-letter queues into the store")
    if report.unreadable:
        err.print(f"left in RabbitMQ (not a Baton message): {', '.join(report.unreadable)}", markup=False)


@dlq_app.command("list")
def dlq_list(
    stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="also replayed ones")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters from every stage (RabbitMQ's dead-letter queues are moved into the store first)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    dead_letters = open_store(settings).administration
    move_dead_letters_from_rabbitmq(settings, dead_letters)
    letters = dead_letters.dead_letters(stage, include_replayed)
    if as_json:
        for letter in letters:
            sys.stdout.write(json.dumps({"id": letter.id, "stage": letter.stage, "reason": letter.reason,
                                         "records": len(letter.routing_ids), "attempts": delivery_attempts(letter),
                                         "failed_at": letter.failed_at.isoformat(),
                                         "replayed_at": letter.replayed_at and letter.replayed_at.isoformat()}) + "\n")
        return
    table = Table(title="Dead letters")
    for column in ("id", "stage", "records", "failed at", "attempts", "replays", "reason"):
        table.add_column(column)
    for letter in letters:
        attempts = delivery_attempts(letter)
        table.add_row(str(letter.id), letter.stage, str(len(letter.routing_ids)), letter.failed_at.isoformat(),
                      "-" if attempts is None else str(attempts), str(letter.replay_count), letter.reason)
    out.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="dead-letter ids")] = None,
    every: Annotated[bool, typer.Option("--all", help="every dead letter not yet replayed")] = False,
    stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
) -> None:
    """Send dead letters back to their stage; they keep their routing ids, so nothing is assigned twice."""
    if not ids and not every and not stage:
        err.print("name dead-letter ids, or --all, or --stage")
        raise typer.Exit(EXIT_USAGE)
    current = bootstrap(load_settings())
    store = current.ports.store
    dead_letters = store.administration
    if not ids:
        move_dead_letters_from_rabbitmq(current.settings, dead_letters)
    letters = [dead_letters.dead_letter(i) for i in ids] if ids else dead_letters.dead_letters(stage)
    missing = [i for i, letter in zip(ids, letters, strict=True) if letter is None] if ids else []
    for letter_id in missing:
        say(f"no dead letter {letter_id}")
    replayed = 0
    for letter in letters:
        if letter is None or (stage and letter.stage != stage):
            continue
        if letter.stage == FLUSH_STAGE:
            store.outbox.requeue(letter.routing_ids)
        elif letter.stage == LOST_STAGE:
            out.print(f"{letter.id}: lost events cannot be resent; marked as dealt with")
        else:
            actor = current.broker.get_actor(letter.actor_name)
            actor.send(*letter.message.get("args", []), **letter.message.get("kwargs", {}))
        dead_letters.mark_replayed(letter.id, utc_now())
        replayed += 1
        out.print(f"replayed {letter.id} to {letter.stage}")
    if isinstance(current.broker, StubBroker) and replayed:
        run_embedded(current.broker, current.settings.worker_threads, 300)
        build_flusher(current).tick()
    err.print(f"{replayed} replayed")
    if missing:
        raise typer.Exit(EXIT_REJECTED)


@held_app.callback()
def held_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="one object per line")] = False,
) -> None:
    """List held records with their reason and next re-check (status queued: waiting in a pull team's queue)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    held = open_store(settings).holds.held()
    if as_json:
        for record in held:
            sys.stdout.write(json.dumps({
                "routing_id": record.routing_id, "object_type": record.object_type, "record_id": record.record_id,
                "team": record.team, "status": record.status, "reason": record.reason,
                "held_at": record.held_at.isoformat(),
                "recheck_at": record.recheck_at.isoformat(), "checks": record.checks}) + "\n")
        return
    table = Table(title="Held records")
    for column in ("record", "object", "team", "held since", "next check", "checks", "reason"):
        table.add_column(column)
    for record in held:
        table.add_row(record.record_id, record.object_type, record.team, record.held_at.isoformat(),
                      record.recheck_at.isoformat(), str(record.checks), record.reason)
    out.print(table)


@held_app.command("recheck")
def held_recheck() -> None:
    """Send every held record that is due back to the assign stage now."""
    current = bootstrap(load_settings())
    sent = recheck_due_holds(current.ports.store.holds, current.broker, utc_now())
    if isinstance(current.broker, StubBroker) and sent:
        run_embedded(current.broker, current.settings.worker_threads, 300)
    out.print(f"{sent} held record(s) re-checked")


@app.command()
def scheduler(
    interval_s: Annotated[float | None, typer.Option(help="seconds between rounds (default BATON_SCHEDULER_INTERVAL_S)")] = None,
    once: Annotated[bool, typer.Option(help="run one round and exit")] = False,
) -> None:
    """Periodic work, one active scheduler at a time: held records, SLA checks, cap windows, out of office."""
    current = bootstrap(load_settings())
    work = build_scheduler(current)

    def after_round(report: RoundReport) -> None:
        if isinstance(current.broker, StubBroker) and (report.held_rechecked or report.reassigned or report.escalated):
            run_embedded(current.broker, current.settings.worker_threads, 300)

    if once:
        report = work.tick() or RoundReport()
        after_round(report)
        sys.stdout.write(json.dumps(vars(report)) + "\n")
        return
    signal.signal(signal.SIGTERM, lambda *_: work.stopped.set())
    try:
        work.run(interval_s or current.settings.scheduler_interval_s, after_round)
    except KeyboardInterrupt:
        work.stopped.set()


@app.command()
def flush(
    once: Annotated[bool, typer.Option(help="flush what is due once and exit")] = False,
) -> None:
    """Write decided owners from the outbox to Salesforce every BATON_FLUSH_INTERVAL_MS (runs until stopped)."""
    current = bootstrap(load_settings())
    flusher = build_flusher(current)
    if once:
        report = flusher.tick()
        out.print(f"{report.rows if report else 0} owner write(s) flushed")
        return
    serve_process_metrics(current.settings, lambda: current.ports.store)
    signal.signal(signal.SIGTERM, lambda *_: flusher.stopped.set())
    try:
        flusher.run()
    except KeyboardInterrupt:
        flusher.stopped.set()


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations (workers also do this at start)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    open_store(settings)
    out.print("store is at the newest migration")


