"""Commands that talk to Salesforce: listen, sync and reassign."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter
from adapters.store.leader import LeaderLock
from baton.assignment.reassign import jobs as reassign_jobs
from baton.assignment.reassign.dry_run import DryRunReport
from baton.assignment.reassign.records import prepare_soql
from baton.assignment.reassign.run import JobContext, JobReport, run_dry_job, run_job
from baton.bootstrap import bootstrap, open_store, salesforce_login, sync_options
from baton.logging import configure_logging
from baton.ports import UnconfiguredOwnerWriter
from baton.settings import Settings
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    SYNC_LOCK,
    app,
    err,
    load_settings,
    out,
    print_summary,
    run_embedded,
    say,
)
from entrypoints.listener import ChannelListener, run_listeners
from kernel.clock import utc_now
from kernel.errors import BatonError, ConfigError, InputError, TransientError
from kernel.ports.operations import ReassignJob, ReassignJobRepository
from routing.config import OrgConfig, load_config_text


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
    settings = load_settings(salesforce_channels=channels)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.channels:
        say("listen: no channels: set BATON_SALESFORCE_CHANNELS (e.g. /data/LeadChangeEvent) or --channels")
        raise typer.Exit(EXIT_USAGE)
    login = salesforce_login(settings)
    if login is None:
        say("listen: no connected app: set BATON_SALESFORCE_CLIENT_ID and BATON_SALESFORCE_CLIENT_SECRET")
        raise typer.Exit(EXIT_USAGE)
    current = bootstrap(settings)
    embedded_lock = threading.Lock()

    def route_embedded(_: int) -> None:  # the embedded default has no worker processes: route in-process
        with embedded_lock:
            run_embedded(current.broker, settings.worker_threads, 300)  # type: ignore[arg-type]

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
            say(f"listen: {location}: {message}")
    if failures:
        raise typer.Exit(EXIT_USAGE)


def _salesforce(settings: Settings) -> Any:
    """A Salesforce session from the connected app in settings; exit 2 when none is configured."""
    try:
        login = salesforce_login(settings)
        if login is None:
            say("baton sync needs a connected app: set BATON_SALESFORCE_CLIENT_ID and BATON_SALESFORCE_CLIENT_SECRET"
                 " (or a private key and username for JWT bearer)")
            raise typer.Exit(EXIT_USAGE)
        return login()
    except ConfigError as exc:
        say(f"Salesforce login: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def _sync_objects(names: list[str] | None) -> list[str]:
    from adapters.salesforce.reference_records import SYNCED_OBJECTS

    known = {name.lower(): name for name in SYNCED_OBJECTS}
    unknown = [name for name in names or [] if name.lower() not in known]
    if unknown:
        say(f"--object: cannot sync {', '.join(unknown)}; choose from {', '.join(SYNCED_OBJECTS)}")
        raise typer.Exit(EXIT_USAGE)
    chosen = {known[name.lower()] for name in names or SYNCED_OBJECTS}
    return [name for name in SYNCED_OBJECTS if name in chosen]


def _described_objects(names: list[str] | None) -> list[str]:
    from adapters.salesforce.rereads import checked_object

    try:
        return [checked_object(name) for name in names or []]
    except InputError as exc:
        say(f"--describe: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def _sync_round(settings: Settings, store: Any, objects: list[str], full: bool, described: list[str]) -> int:
    """One pass over ``objects``: a progress bar on stderr, the summary table on stdout; returns an exit code."""
    from adapters.salesforce.sync import (
        ReferenceSync,  # simple-salesforce loads only for commands that use it
    )

    try:
        salesforce = _salesforce(settings)
        syncer = ReferenceSync(salesforce, store.reference_sync, sync_options(settings), utc_now,
                               settings.sync_settle_s)
    except BatonError as exc:
        say(f"Salesforce login failed: {exc}")
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
                say(f"{object_type}: sync stopped: {exc}")
                table.add_row(object_type, "-", "-", "-", "-", "-", "failed (resumes next run)")
                continue
            stamp = result.position.last_modstamp if result.position else None
            table.add_row(object_type, str(result.written), str(result.removed), str(result.swept), str(result.pages),
                          stamp.isoformat() if stamp else "-", "ok")
    out.print(table)
    _sync_describes(salesforce, store, described)
    return EXIT_REJECTED if failed else EXIT_OK


def _stored_config(store: Any) -> OrgConfig | None:
    """The newest stored config, None when there is none or it does not load (its problems are logged where it
    is applied and used)."""
    stored = store.administration.latest_config()
    if stored is None:
        return None
    try:
        return load_config_text(stored.body, f"config v{stored.version}")
    except ConfigError:
        return None


def _sync_describes(salesforce: Any, store: Any, extra: list[str]) -> None:
    """Describes the routed objects into the store; a failure is reported on stderr and retried next pass, and
    never changes the exit code of the reference sync."""
    from adapters.salesforce.describes import routed_objects, sync_describes

    objects = routed_objects(_stored_config(store), extra)
    outcome = sync_describes(salesforce, store.describes, objects, utc_now())
    saved = [name for name, problem in outcome.items() if problem is None]
    out.print(f"describes stored: {', '.join(saved) or 'none'}")
    for name, problem in outcome.items():
        if problem is not None:
            say(f"{name}: describe failed (kept the stored one, retried next pass): {problem}")


@app.command("sync")
def sync(
    objects: Annotated[list[str] | None, typer.Option(
        "--object", help="User, Account, Contact or Lead; repeat for several (default: all four)")] = None,
    full: Annotated[bool, typer.Option(help="start over; at the end drop rows Salesforce no longer has")] = False,
    every_s: Annotated[float | None, typer.Option(help="sync again every N seconds until stopped")] = None,
    describe: Annotated[list[str] | None, typer.Option(
        "--describe", help="also describe this object (e.g. a custom object a config to apply maps); repeat for "
                           "several. Lead, Contact, Account, Opportunity, Case and the stored config's objects "
                           "are described on every pass")] = None,
) -> None:
    """Copy users, accounts, contacts and open leads from Salesforce into the store; resumes where it stopped.
    Every pass also stores the describe of each routed object (what `baton check` and `baton config apply`
    check write-back mappings against)."""
    chosen = _sync_objects(objects)
    described = _described_objects(describe)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    lock = LeaderLock(store.engine, SYNC_LOCK)
    while True:
        if lock.try_acquire():
            code = _sync_round(settings, store, chosen, full, described)
            full = False
        else:
            say("sync: another baton sync is running (it holds the sync lock); this round is skipped")
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


def _reassign_job(jobs: ReassignJobRepository, soql: str | None, csv_file: Path | None, object_type: str,
                  dry_run: bool, resume: str | None) -> ReassignJob:
    if resume is not None:
        job = jobs.reassign_job(resume)
        if job is None:
            say(f"no reassign job {resume}")
            raise typer.Exit(EXIT_USAGE)
        return job
    if csv_file is not None:
        if not csv_file.is_file():
            say(f"{csv_file}: no such file")
            raise typer.Exit(EXIT_USAGE)
        return reassign_jobs.create_job(jobs, reassign_jobs.SOURCE_CSV, str(csv_file.resolve()), object_type,
                                        dry_run, utc_now())
    try:
        query, queried_object = prepare_soql(soql or "")
    except InputError as exc:
        say(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    return reassign_jobs.create_job(jobs, reassign_jobs.SOURCE_SOQL, query, queried_object, dry_run, utc_now())


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
    print_summary(decisions, len(report.rejected_rows), report.undecided, out)
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
        say("name exactly one of --soql QUERY, --csv FILE or --resume JOB_ID")
        raise typer.Exit(EXIT_USAGE)
    settings = load_settings()
    try:
        current = bootstrap(settings)
        bulk = _bulk_client(settings)
    except (ConfigError, TransientError) as exc:
        say(f"Salesforce: {exc}")
        raise typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_REJECTED) from None
    store = current.ports.store
    if store.administration.latest_config() is None:
        err.print("no routing config: run `baton config apply FILE` first")
        raise typer.Exit(EXIT_USAGE)
    job = _reassign_job(store.administration, soql, csv_file, object_type, dry_run, resume)
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
            say(f"job {job.id} deferred: {exc}; resume it later with: baton reassign --resume {job.id}")
            raise typer.Exit(EXIT_DEFERRED) from None
        except (BatonError, KeyboardInterrupt) as exc:
            say(f"job {job.id} stopped: {exc or type(exc).__name__}; resume it with: baton reassign --resume {job.id}")
            raise typer.Exit(EXIT_REJECTED) from None
        finally:
            if worker is not None:
                worker.stop()
    for line in (rejected if job.dry_run else report.rejected_rows):
        say(f"rejected: {line}")
    if job.dry_run:
        _print_dry_run(dry_report)
        raise typer.Exit(EXIT_REJECTED if rejected else EXIT_OK)
    _print_reassigned(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_REJECTED)
