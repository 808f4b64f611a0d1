"""``baton reject RECORD --member ID --reason ...``: the record's owner rejects it; routed again without them."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.assignment.reassign.reject import RejectRefused, new_rejection, reject_record
from baton.assignment.reassign.single import RecordNotFound
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    err,
    load_settings,
)
from entrypoints.cli.record_reassign import print_routed, runtime_and_reader
from kernel.clock import utc_now
from kernel.errors import InputError, TransientError


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
    current, reader = runtime_and_reader(settings)
    try:
        routing_id = reject_record(request, reader, current.broker, current.ports.store.decisions,
                                   current.ports.configs, utc_now())
    except (RecordNotFound, RejectRefused) as exc:
        err.print(f"not rejected: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except (InputError, TransientError) as exc:
        err.print(f"not rejected: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    print_routed(current, settings, routing_id)
    raise typer.Exit(EXIT_OK)
