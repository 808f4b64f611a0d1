"""``baton reassign-record``: route one record again through the graph, with the reason logged."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from dramatiq.brokers.stub import StubBroker

from baton.assignment.reassign.single import RecordNotFound, new_request, reassign_record
from baton.bootstrap import bootstrap, build_flusher, salesforce_login
from baton.runtime import Runtime
from baton.settings import Settings
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    err,
    load_settings,
    run_embedded,
    wait_for_logs,
)
from kernel.clock import utc_now
from kernel.errors import InputError, TransientError

if TYPE_CHECKING:
    from adapters.salesforce.rereads import SoqlRecordReader

WAIT_S = 60.0


@app.command("reassign-record")
def reassign_record_command(
    record_id: str,
    reason: Annotated[str, typer.Option(help="why (kept in the assignment log and shown by `baton why`)")],
    object_type: Annotated[str, typer.Option("--object", help="the record's sObject")] = "Lead",
    request_id: Annotated[str | None, typer.Option(help="repeat a request with its id: it routes once")] = None,
) -> None:
    """Route one record again (its current state read from Salesforce); the previous owner is credited back."""
    settings = load_settings()
    try:
        request = new_request(object_type, record_id, reason, request_id)
    except InputError as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    current, reader = runtime_and_reader(settings)
    try:
        routing_id = reassign_record(request, reader, current.broker, utc_now())
    except RecordNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_REJECTED) from None
    except (InputError, TransientError) as exc:
        err.print(f"not reassigned: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    print_routed(current, settings, routing_id, request_id=request.request_id)
    raise typer.Exit(EXIT_OK)


def runtime_and_reader(settings: Settings) -> tuple[Runtime, SoqlRecordReader]:
    """The runtime and a reader of records through the connected app; exit 2 without one."""
    login = salesforce_login(settings)
    if login is None:
        err.print("no Salesforce connection configured: the record's current state cannot be read")
        raise typer.Exit(EXIT_USAGE)
    current = bootstrap(settings)
    from adapters.salesforce.rereads import SoqlRecordReader

    return current, SoqlRecordReader(login(), current.ports.store.describes)


def print_routed(current: Runtime, settings: Settings, routing_id: str, **extra: object) -> None:
    """Routes the sent event here on the embedded default (and writes its owner), then prints the routing id,
    ``extra``, the outcome and the new owner as one JSON line."""
    embedded = isinstance(current.broker, StubBroker)
    if embedded:
        run_embedded(current.broker, settings.worker_threads, WAIT_S)
        build_flusher(current).tick()  # the new owner written to Salesforce
    log = wait_for_logs(current.ports.store.decisions, [routing_id], 0 if embedded else WAIT_S).get(routing_id)
    sys.stdout.write(json.dumps({"routing_id": routing_id, **extra, "outcome": (log or {}).get("outcome", "queued"),
                                 "owner_id": (log or {}).get("owner_id")}) + "\n")
