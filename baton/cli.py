"""The ``baton`` command. Logs go to stderr; stdout holds only results."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.files import Rejected, read_records
from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter
from adapters.store import ReassignJob
from adapters.store.leader import LeaderLock
from baton.bootstrap import bootstrap, build_flusher, open_store, salesforce_login, sync_options
from baton.clock import utc_now
from baton.configs import apply_config
from baton.errors import BatonError, ConfigError, InputError, TransientError
from baton.flusher import FLUSH_STAGE
from baton.holds import recheck_due_holds
from baton.ingest import enqueue
from baton.listener import ChannelListener, run_listeners
from baton.logging import configure_logging
from baton.ports import UnconfiguredOwnerWriter
from baton.reassign import jobs as reassign_jobs
from baton.reassign.dry_run import DryRunReport
from baton.reassign.records import prepare_soql
from baton.reassign.run import JobContext, JobReport, run_dry_job, run_job
from baton.settings import Settings
from messages import STAGES, RecordEvent
from routing.config import load_config_text


EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
SYNC_LOCK = "reference-sync"
ROUTED_OUTCOMES = {"assigned", "held", "not_routed", "stale", "stopped"}
WAIT_POLL_S = 0.2

app = typer.Typer(help="Baton routes Salesforce records to owners.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Store and inspect org configs.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list, show and replay.", no_args_is_help=True)
member_app = typer.Typer(help="Member availability toggles.", no_args_is_help=True)
held_app = typer.Typer(help="Held records: list them, re-check them now.", invoke_without_command=True)
app.add_typer(config_app, name="config")
app.add_typer(dlq_app, name="dlq")
app.add_typer(member_app, name="member")
app.add_typer(held_app, name="held")

NON_TTY_WIDTH = 160
out = Console(width=None if sys.stdout.isatty() else NON_TTY_WIDTH)
err = Console(stderr=True, width=None if sys.stderr.isatty() else NON_TTY_WIDTH)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except Exception as exc:  # pydantic-settings reports which BATON_* variable is wrong
        err.print(f"[red]settings error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def _say(line: str) -> None:
    """A plain diagnostic line on stderr: never wrapped or styled, so it can be grepped."""
    sys.stderr.write(line + "\n")


def _print_config_problems(path: Path, error: ConfigError) -> None:
    for location, message in error.problems:
        where = location if location.startswith(str(path)) else f"{path}: {location}"
        _say(f"{where}: {message}")


def _read_config(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _say(f"{path}: cannot read: {exc.strerror}")
        raise typer.Exit(EXIT_USAGE) from None
    try:
        load_config_text(text, str(path))
    except ConfigError as exc:
        _print_config_problems(path, exc)
        raise typer.Exit(EXIT_USAGE) from None
    return text


@app.command()
def check(config: Annotated[Path, typer.Argument(help="org routing config (YAML)")]) -> None:
    """Validate a config; print every error with its path. Exit 2 when invalid."""
    _read_config(config)
    out.print(f"{config}: ok")


@config_app.command("apply")
def config_apply(config: Annotated[Path, typer.Argument(help="org routing config (YAML)")]) -> None:
    """Store a new config version; running workers pick it up without a restart."""
    text = _read_config(config)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    version, created = apply_config(store, text, utc_now(), str(config))
    out.print(f"config version {version}" + ("" if created else " (unchanged)"))


@config_app.command("show")
def config_show(version: Annotated[int | None, typer.Option(help="a stored version")] = None) -> None:
    """Print the newest (or a given) stored config."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    stored = store.config(version) if version else store.latest_config()
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
        _say(f"{path}: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    for item in rejected:
        _say(f"{path}:{item.line}: rejected: {item.reason}")
    return events, rejected


def _run_embedded(broker: StubBroker, threads: int, timeout_s: float) -> None:
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        for stage in STAGES:
            broker.join(broker.get_actor(stage).queue_name, timeout=int(timeout_s * 1000), fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def _wait_for_logs(store: Any, routing_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    logs: dict[str, dict[str, Any]] = {}
    while True:
        logs.update(store.assignment_logs([rid for rid in routing_ids if rid not in logs]))
        if len(logs) >= len(set(routing_ids)) or time.monotonic() > deadline:
            return logs
        time.sleep(WAIT_POLL_S)


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


def _print_summary(logs: list[dict[str, Any]], rejected: int, failed: int, console: Console) -> None:
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
        _say(f"{records}: no such file")
        raise typer.Exit(EXIT_USAGE)
    if config is not None:
        _read_config(config)
    settings = _settings(config=config, batch_size=batch_size)
    events, rejected = _read_events(records, object_type)
    current = bootstrap(settings)
    if current.ports.store.latest_config() is None:
        err.print("no routing config: pass --config FILE or run `baton config apply FILE`")
        raise typer.Exit(EXIT_USAGE)
    enqueue(current.broker, events, settings.batch_size, utc_now())
    routing_ids = [event.routing_id for event in events]
    if isinstance(current.broker, StubBroker):
        _run_embedded(current.broker, settings.worker_threads, timeout_s)
        build_flusher(current).tick()
    found = _wait_for_logs(current.ports.store, routing_ids, timeout_s if not isinstance(current.broker, StubBroker) else 0)
    seen: set[str] = set()
    logs = []
    for routing_id in routing_ids:
        if routing_id in found and routing_id not in seen:
            seen.add(routing_id)
            logs.append(found[routing_id])
    failed = len(set(routing_ids)) - len(logs)
    _print_assignments(logs, as_json)
    _print_summary(logs, len(rejected), failed, err if as_json else out)
    raise typer.Exit(EXIT_REJECTED if rejected or failed else EXIT_OK)


@dlq_app.command("list")
def dlq_list(
    stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="also replayed ones")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters stored from every stage."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    letters = open_store(settings).dead_letters(stage, include_replayed)
    if as_json:
        for letter in letters:
            sys.stdout.write(json.dumps({"id": letter.id, "stage": letter.stage, "reason": letter.reason,
                                         "records": len(letter.routing_ids),
                                         "failed_at": letter.failed_at.isoformat(),
                                         "replayed_at": letter.replayed_at and letter.replayed_at.isoformat()}) + "\n")
        return
    table = Table(title="Dead letters")
    for column in ("id", "stage", "records", "failed at", "replays", "reason"):
        table.add_column(column)
    for letter in letters:
        table.add_row(str(letter.id), letter.stage, str(len(letter.routing_ids)), letter.failed_at.isoformat(),
                      str(letter.replay_count), letter.reason)
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
    current = bootstrap(_settings())
    store = current.ports.store
    letters = [store.dead_letter(i) for i in ids] if ids else store.dead_letters(stage)
    replayed = 0
    for letter in letters:
        if letter is None:
            continue
        if letter.stage == FLUSH_STAGE:
            store.requeue_outbox(letter.routing_ids)
        else:
            actor = current.broker.get_actor(letter.actor_name)
            actor.send(*letter.message.get("args", []), **letter.message.get("kwargs", {}))
        store.mark_replayed(letter.id, utc_now())
        replayed += 1
        out.print(f"replayed {letter.id} to {letter.stage}")
    if isinstance(current.broker, StubBroker) and replayed:
        _run_embedded(current.broker, current.settings.worker_threads, 300)
        build_flusher(current).tick()
    err.print(f"{replayed} replayed")


def _toggle(user: str, available: bool) -> None:
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    store.set_member_available(user, available, utc_now())
    if available:
        store.recheck_holds_now(utc_now())
    out.print(f"{user}: {'available' if available else 'unavailable'}")


@held_app.callback()
def held_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="one object per line")] = False,
) -> None:
    """List held records with their reason and next re-check."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    rows = open_store(settings).holds()
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps({key: row[key].isoformat() if hasattr(row[key], "isoformat") else row[key]
                                         for key in ("routing_id", "object_type", "record_id", "team", "reason",
                                                     "held_at", "recheck_at", "checks")}) + "\n")
        return
    table = Table(title="Held records")
    for column in ("record", "object", "team", "held since", "next check", "checks", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["record_id"], row["object_type"], row["team"], row["held_at"].isoformat(),
                      row["recheck_at"].isoformat(), str(row["checks"]), row["reason"])
    out.print(table)


@held_app.command("recheck")
def held_recheck() -> None:
    """Send every held record that is due back to the assign stage now."""
    current = bootstrap(_settings())
    sent = recheck_due_holds(current.ports.store, current.broker, utc_now())
    if isinstance(current.broker, StubBroker) and sent:
        _run_embedded(current.broker, current.settings.worker_threads, 300)
    out.print(f"{sent} held record(s) re-checked")


@app.command()
def scheduler(
    interval_s: Annotated[float, typer.Option(help="seconds between polls")] = 5.0,
    once: Annotated[bool, typer.Option(help="poll once and exit")] = False,
) -> None:
    """Periodic work: re-check held records when they are due (runs until stopped)."""
    current = bootstrap(_settings())
    while True:
        sent = recheck_due_holds(current.ports.store, current.broker, utc_now())
        if isinstance(current.broker, StubBroker) and sent:
            _run_embedded(current.broker, current.settings.worker_threads, 300)
        if once:
            return
        time.sleep(interval_s)


@app.command()
def flush(
    once: Annotated[bool, typer.Option(help="flush what is due once and exit")] = False,
) -> None:
    """Write decided owners from the outbox to Salesforce every BATON_FLUSH_INTERVAL_MS (runs until stopped)."""
    current = bootstrap(_settings())
    flusher = build_flusher(current)
    if once:
        report = flusher.tick()
        out.print(f"{report.rows if report else 0} owner write(s) flushed")
        return
    signal.signal(signal.SIGTERM, lambda *_: flusher.stopped.set())
    try:
        flusher.run()
    except KeyboardInterrupt:
        flusher.stopped.set()


@member_app.command("available")
def member_available(user: str) -> None:
    """Mark a member available for routing again."""
    _toggle(user, True)


@member_app.command("unavailable")
def member_unavailable(user: str) -> None:
    """Take a member out of routing until marked available."""
    _toggle(user, False)


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations (workers also do this at start)."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    open_store(settings)
    out.print("store is at the newest migration")


@app.command()
def listen(
    channels: Annotated[str | None, typer.Option(
        help="comma-separated channels, e.g. /data/LeadChangeEvent,/event/Booking_Request__e "
             "(default: BATON_SALESFORCE_CHANNELS)")] = None,
) -> None:
    """Route Salesforce change events and platform events as they happen (runs until stopped).

    One process per channel is active; replicas wait (PostgreSQL advisory lock). Each channel resumes
    from its stored replay id.
    """
    settings = _settings(salesforce_channels=channels)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.channels:
        _say("listen: no channels: set BATON_SALESFORCE_CHANNELS (e.g. /data/LeadChangeEvent) or --channels")
        raise typer.Exit(EXIT_USAGE)
    login = salesforce_login(settings)
    if login is None:
        _say("listen: no connected app: set BATON_SALESFORCE_CLIENT_ID and BATON_SALESFORCE_CLIENT_SECRET")
        raise typer.Exit(EXIT_USAGE)
    current = bootstrap(settings)
    embedded_lock = threading.Lock()

    def route_embedded(_: int) -> None:  # the embedded default has no worker processes: route in-process
        with embedded_lock:
            _run_embedded(current.broker, settings.worker_threads, 300)  # type: ignore[arg-type]

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    listeners = [
        ChannelListener(channel, current.ports.store, current.broker, login, batch_size=settings.batch_size,
                        clock=current.ports.clock, integration_user_id=settings.salesforce_user_id, stop=stop,
                        after_enqueue=route_embedded if isinstance(current.broker, StubBroker) else None)
        for channel in settings.channels
    ]
    failures = run_listeners(listeners, stop)
    for listener in listeners:
        out.print(f"{listener.channel}: {listener.enqueued} record event(s) enqueued")
    for failure in failures:
        for location, message in failure.problems:
            _say(f"listen: {location}: {message}")
    if failures:
        raise typer.Exit(EXIT_USAGE)


def _salesforce(settings: Settings) -> Any:
    """A Salesforce session from the connected app in settings; exit 2 when none is configured."""
    try:
        login = salesforce_login(settings)
        if login is None:
            _say("baton sync needs a connected app: set BATON_SALESFORCE_CLIENT_ID and BATON_SALESFORCE_CLIENT_SECRET"
                 " (or a private key and username for JWT bearer)")
            raise typer.Exit(EXIT_USAGE)
        return login()
    except ConfigError as exc:
        _say(f"Salesforce login: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def _sync_objects(names: list[str] | None) -> list[str]:
    from adapters.salesforce.reference_records import SYNCED_OBJECTS

    known = {name.lower(): name for name in SYNCED_OBJECTS}
    unknown = [name for name in names or [] if name.lower() not in known]
    if unknown:
        _say(f"--object: cannot sync {', '.join(unknown)}; choose from {', '.join(SYNCED_OBJECTS)}")
        raise typer.Exit(EXIT_USAGE)
    chosen = {known[name.lower()] for name in names or SYNCED_OBJECTS}
    return [name for name in SYNCED_OBJECTS if name in chosen]


def _sync_round(settings: Settings, store: Any, objects: list[str], full: bool) -> int:
    """One pass over ``objects``: a progress bar on stderr, the summary table on stdout; returns an exit code."""
    from adapters.salesforce.sync import ReferenceSync  # simple-salesforce loads only for commands that use it

    try:
        syncer = ReferenceSync(_salesforce(settings), store, sync_options(settings), utc_now, settings.sync_settle_s)
    except BatonError as exc:
        _say(f"Salesforce login failed: {exc}")
        return EXIT_REJECTED
    table = Table(title="Rows synced")
    for column in ("object", "written", "removed", "swept", "pages", "synced up to", "status"):
        table.add_column(column, justify="right" if column in {"written", "removed", "swept", "pages"} else "left")
    failed = False
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err) as progress:
        for object_type in objects:
            task = progress.add_task(object_type, total=None)

            def advance(_: str, records: int, total: int, task: Any = task) -> None:
                progress.update(task, advance=records, total=total)

            try:
                result = syncer.run(object_type, full=full, on_page=advance)
            except BatonError as exc:
                failed = True
                _say(f"{object_type}: sync stopped: {exc}")
                table.add_row(object_type, "-", "-", "-", "-", "-", "failed (resumes next run)")
                continue
            stamp = result.position.last_modstamp if result.position else None
            table.add_row(object_type, str(result.written), str(result.removed), str(result.swept), str(result.pages),
                          stamp.isoformat() if stamp else "-", "ok")
    out.print(table)
    return EXIT_REJECTED if failed else EXIT_OK


@app.command("sync")
def sync(
    objects: Annotated[list[str] | None, typer.Option(
        "--object", help="User, Account, Contact or Lead; repeat for several (default: all four)")] = None,
    full: Annotated[bool, typer.Option(help="start over; at the end drop rows Salesforce no longer has")] = False,
    every_s: Annotated[float | None, typer.Option(help="sync again every N seconds until stopped")] = None,
) -> None:
    """Copy users, accounts, contacts and open leads from Salesforce into the store; resumes where it stopped."""
    chosen = _sync_objects(objects)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    lock = LeaderLock(store.engine, SYNC_LOCK)
    while True:
        if lock.try_acquire():
            code = _sync_round(settings, store, chosen, full)
            full = False
        else:
            _say("sync: another baton sync is running (it holds the sync lock); this round is skipped")
            code = EXIT_OK
        if every_s is None:
            raise typer.Exit(code)
        time.sleep(every_s)


EXIT_DEFERRED = 3


class _ProgressBars:
    """A reassign job's progress as rich progress bars on stderr (read, route, write)."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def update(self, task: str, completed: int, total: int | None = None) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=completed, total=total)


def _bulk_client(settings: Settings) -> BulkClient | None:
    login = salesforce_login(settings)
    return BulkClient(login(), settings.bulk_poll_ms) if login is not None else None


def _reassign_job(store: Any, soql: str | None, csv_file: Path | None, object_type: str, dry_run: bool,
                  resume: str | None) -> ReassignJob:
    if resume is not None:
        job = store.reassign_job(resume)
        if job is None:
            _say(f"no reassign job {resume}")
            raise typer.Exit(EXIT_USAGE)
        return job
    if csv_file is not None:
        if not csv_file.is_file():
            _say(f"{csv_file}: no such file")
            raise typer.Exit(EXIT_USAGE)
        return reassign_jobs.create_job(store, reassign_jobs.SOURCE_CSV, str(csv_file.resolve()), object_type,
                                        dry_run, utc_now())
    try:
        query, queried_object = prepare_soql(soql or "")
    except InputError as exc:
        _say(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    return reassign_jobs.create_job(store, reassign_jobs.SOURCE_SOQL, query, queried_object, dry_run, utc_now())


def _print_dry_run(report: DryRunReport) -> None:
    table = Table(title="Owner changes (dry run)")
    for column, justify in (("owner", "left"), ("records in", "right"), ("records out", "right"), ("net", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for owner, (gains, losses) in report.per_owner().items():
        table.add_row(owner, str(gains), str(losses), f"{gains - losses:+d}")
    out.print(table)
    out.print(", ".join(f"{outcome} {count}" for outcome, count in sorted(report.outcomes.items())) +
              f"; {len(report.moves)} record(s) would change owner:")
    sys.stdout.writelines(f"{m.record_id}\t{m.from_owner or '-'}\t->\t{m.to_owner}\t{m.team or '-'}\n"
                          for m in report.moves)


def _print_reassigned(report: JobReport) -> None:
    decisions = [{"outcome": d.outcome, "owner_id": d.owner_id, "team": d.team} for d in report.decisions.values()]
    _print_summary(decisions, len(report.rejected_rows), report.undecided, out)
    writes = ", ".join(f"{status} {count}" for status, count in sorted(report.writes.items())) or "none"
    out.print(f"owner writes: {writes}")


@app.command()
def reassign(
    soql: Annotated[str | None, typer.Option(help="SOQL query whose records to reassign (Bulk API 2.0)")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="CSV file: an Id column, other columns as fields")] = None,
    object_type: Annotated[str, typer.Option("--object", help="object type of the CSV file's records")] = "Lead",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report who would get which records; change nothing")] = False,
    resume: Annotated[str | None, typer.Option(help="continue a deferred or interrupted job by its id")] = None,
    timeout_s: Annotated[float, typer.Option(help="how long to wait for the decisions (RabbitMQ)")] = 3600.0,
) -> None:
    """Reassign records in bulk: route each once through the pipeline, write owners with Bulk API 2.0 ingest.

    Prints the job id first. Exit 0 when every record was routed and written, 1 when any row, record or owner
    write failed or the job was interrupted (resume it), 2 for a usage or config error, 3 when the job was
    deferred because the org's API usage is over BATON_API_BUDGET_SHARE (resume it later).
    """
    if sum(value is not None for value in (soql, csv_file, resume)) != 1:
        _say("name exactly one of --soql QUERY, --csv FILE or --resume JOB_ID")
        raise typer.Exit(EXIT_USAGE)
    settings = _settings()
    try:
        current = bootstrap(settings)
        bulk = _bulk_client(settings)
    except (ConfigError, TransientError) as exc:
        _say(f"Salesforce: {exc}")
        raise typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_REJECTED) from None
    store = current.ports.store
    if store.latest_config() is None:
        err.print("no routing config: run `baton config apply FILE` first")
        raise typer.Exit(EXIT_USAGE)
    job = _reassign_job(store, soql, csv_file, object_type, dry_run, resume)
    sys.stdout.write(f"job {job.id}\n")
    sys.stdout.flush()
    if job.state == reassign_jobs.COMPLETED:
        err.print(f"job {job.id} is already completed: {job.counts}")
        raise typer.Exit(EXIT_OK)
    broker = current.broker
    embedded = isinstance(broker, StubBroker)
    worker = Worker(broker, worker_threads=settings.worker_threads, worker_timeout=100) if embedded else None
    columns = (TextColumn("{task.description:>5}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bars:
        ctx = JobContext(store, broker, settings, bulk, BulkOwnerWriter(bulk) if bulk else UnconfiguredOwnerWriter(),
                         current.ports.clock, _ProgressBars(bars), timeout_s=timeout_s,
                         idle=(lambda: all(q.unfinished_tasks == 0 for q in broker.queues.values())) if embedded else None)
        try:
            if job.dry_run:
                dry_report, rejected = run_dry_job(job, ctx, current.ports)
            else:
                if worker is not None:
                    worker.start()
                report = run_job(job, ctx)
        except reassign_jobs.BudgetExceeded as exc:
            _say(f"job {job.id} deferred: {exc}; resume it later with: baton reassign --resume {job.id}")
            raise typer.Exit(EXIT_DEFERRED) from None
        except (BatonError, KeyboardInterrupt) as exc:
            _say(f"job {job.id} stopped: {exc or type(exc).__name__}; resume it with: baton reassign --resume {job.id}")
            raise typer.Exit(EXIT_REJECTED) from None
        finally:
            if worker is not None:
                worker.stop()
    for line in (rejected if job.dry_run else report.rejected_rows):
        _say(f"rejected: {line}")
    if job.dry_run:
        _print_dry_run(dry_report)
        raise typer.Exit(EXIT_REJECTED if rejected else EXIT_OK)
    _print_reassigned(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_REJECTED)
