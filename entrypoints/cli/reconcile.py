"""``baton reconcile``: owners in Salesforce against Baton's newest decisions, and bookings not finished."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from adapters.salesforce.owner_reads import OwnerQuery, SalesforceOwners
from adapters.salesforce.rereads import checked_object
from baton.bootstrap import open_store, salesforce_login
from baton.logging import configure_logging
from baton.operations.reconcile import Difference, booking_document, owner_document, short_age
from baton.operations.reconciliation import ReconcileReport, ReconcileRequest, reconcile
from baton.since import parse_since
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    err,
    load_settings,
    out,
    say,
)
from kernel.clock import utc_now
from kernel.errors import ConfigError, InputError, PermanentError, TransientError

NOT_CONFIGURED = ("baton reconcile reads owners from Salesforce, and no connected app is configured: set "
                  "BATON_SALESFORCE_CLIENT_ID and BATON_SALESFORCE_CLIENT_SECRET (client credentials), with "
                  "BATON_SALESFORCE_USERNAME and BATON_SALESFORCE_PASSWORD or BATON_SALESFORCE_PRIVATE_KEY_FILE "
                  "when the app logs in as a user")


def _moment(option: str, text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text, now)
    except InputError as exc:
        say(str(exc).replace("--since", option))
        raise typer.Exit(EXIT_USAGE) from None


@app.command("reconcile")
def reconcile_command(
    objects: Annotated[list[str] | None, typer.Option("--object", help="only this object type (repeatable)")] = None,
    since: Annotated[str | None, typer.Option(
        help="only decisions and bookings made since: 30m, 2d, 1w or an ISO time")] = None,
    bookings_older_than: Annotated[str | None, typer.Option(
        "--bookings-older-than", help="only bookings created before: 15m, 2h, 1d (that long ago) or an ISO time")] = None,
    requeue: Annotated[bool, typer.Option(
        "--requeue", help="queue each differing decision's owner write again (a new pending outbox row)")] = False,
    via: Annotated[OwnerQuery, typer.Option(
        help="how owners are read: SOQL by ids, a Bulk API 2.0 query, or auto (Bulk from 10,000 records "
             "of an object)")] = OwnerQuery.AUTO,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Compare each record's owner in Salesforce with Baton's newest decision for it, and list the records that
    differ (with --requeue, queue the decision's write again) and the bookings not in a final state. Exit 0 when
    nothing is listed, 1 when something is (or Salesforce failed), 2 for a usage or configuration error."""
    now = utc_now()
    request = ReconcileRequest(objects=_object_names(objects or []), since=_moment("--since", since, now),
                               bookings_before=_moment("--bookings-older-than", bookings_older_than, now),
                               requeue=requeue)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        login = salesforce_login(settings)
    except ConfigError as exc:
        say(f"Salesforce: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if login is None:
        say(NOT_CONFIGURED)
        raise typer.Exit(EXIT_USAGE)
    store = open_store(settings)
    try:
        source = SalesforceOwners(login(), via, settings.bulk_poll_ms)
        report = reconcile(store.operations, source, store.outbox, request, now)
    except (ConfigError, InputError) as exc:
        say(f"Salesforce: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except (TransientError, PermanentError) as exc:
        say(f"Salesforce: {exc}; nothing was queued")
        raise typer.Exit(EXIT_REJECTED) from None
    if as_json:
        _print_json(report)
    else:
        _print_tables(report)
    _print_summary(report, requeue)
    raise typer.Exit(EXIT_OK if report.clean else EXIT_REJECTED)


def _object_names(names: list[str]) -> list[str]:
    try:
        return [checked_object(name) for name in names]
    except InputError as exc:
        say(f"--object: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def _print_json(report: ReconcileReport) -> None:
    lines: list[dict[str, Any]] = [owner_document(found) for found in report.owners.differences]
    lines += [booking_document(found) for found in report.bookings]
    for line in lines:
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def _print_tables(report: ReconcileReport) -> None:
    if report.owners.differences:
        out.print(_owners_table(report))
    if report.bookings:
        out.print(_bookings_table(report))


def _owners_table(report: ReconcileReport) -> Table:
    owners = Table(title="Owners that differ from Baton's newest decision")
    for column in ("record", "object", "in Salesforce", "Baton's owner", "decided at", "write", "action"):
        owners.add_column(column)
    for found in report.owners.differences:
        decision = found.decision
        write = decision.write_status or "(no row)"
        if decision.newest_write_status and decision.newest_write_status != decision.write_status:
            write += f", newest {decision.newest_write_status}"
        owners.add_row(decision.record_id, decision.object_type, found.salesforce_owner_id or "(missing)",
                       decision.owner_id, decision.decided_at.isoformat(timespec="seconds"), write, found.action.value)
    return owners


def _bookings_table(report: ReconcileReport) -> Table:
    bookings = Table(title="Bookings not in a final state")
    for column in ("booking", "status", "object", "record", "host", "age", "idle", "last step", "next step"):
        bookings.add_column(column)
    for unfinished in report.bookings:
        booking = unfinished.booking
        bookings.add_row(booking.id, booking.status, booking.object_type, booking.record_id, booking.host_id,
                         short_age(unfinished.age), short_age(unfinished.idle), unfinished.last_step or "-",
                         unfinished.next_step or "-")
    return bookings


def _print_summary(report: ReconcileReport, requeue: bool) -> None:
    owners = report.owners
    err.print(f"{owners.compared} record(s) compared: {owners.matched} match, {owners.count(Difference.DIFFERS)} "
              f"differ, {owners.count(Difference.MISSING)} missing in Salesforce")
    if requeue:
        err.print(f"{report.requeued} owner write(s) queued again")
    err.print(f"{len(report.bookings)} booking(s) not in a final state")
