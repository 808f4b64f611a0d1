"""``baton reject RECORD --member ID --reason ...``: the record's owner rejects it; routed again without them."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from dramatiq.brokers.stub import StubBroker

from baton.assignment.reassign.reject import RejectRefused, new_rejection, reject_record
from baton.assignment.reassign.single import RecordNotFound
from baton.bootstrap import bootstrap, build_flusher, salesforce_login
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

WAIT_S = 60.0


@app.command("reject")
def reject_command(
    record_id: str,
    member: Annotated[str, typer.Option("--member", help="the Salesforce user id of the owner rejecting it")],
    reason: Annotated[str, typer.Option(help="why (kept and shown by `baton why`)")],
    object_type: Annotated[str, typer.Option("--object", help="the record's sObject")] = "Lead",
) -> None:
    """The record's owner (as Baton decided it) rejects it: routed again without them, never back to them in the
    team's period. Exit 1 when they are not its owner or over the team's daily rejection limit (it stays theirs)."""
    settings = load_settings()
    try:
        request = new_rejection(object_type, record_id, member, reason)
    except InputError as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    login = salesforce_login(settings)
    if login is None:
        err.print("no Salesforce connection configured: the record's current state cannot be read")
        raise typer.Exit(EXIT_USAGE)
    current = bootstrap(settings)
    from adapters.salesforce.rereads import SoqlRecordReader

    try:
        routing_id = reject_record(request, SoqlRecordReader(login(), current.ports.store.describes), current.broker,
                                   current.ports.store.decisions, current.ports.configs, utc_now())
    except (RecordNotFound, RejectRefused) as exc:
        err.print(f"not rejected: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except (InputError, TransientError) as exc:
        err.print(f"not rejected: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    embedded = isinstance(current.broker, StubBroker)
    if embedded:
        run_embedded(current.broker, settings.worker_threads, WAIT_S)
        build_flusher(current).tick()  # the new owner written to Salesforce
    log = wait_for_logs(current.ports.store.decisions, [routing_id], 0 if embedded else WAIT_S).get(routing_id)
    sys.stdout.write(json.dumps({"routing_id": routing_id, "outcome": (log or {}).get("outcome", "queued"),
                                 "owner_id": (log or {}).get("owner_id")}) + "\n")
    raise typer.Exit(EXIT_OK)
