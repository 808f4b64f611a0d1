"""Operator commands on booked meetings: cancel, no-show, reschedule, reassign (as the booking API does)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from dramatiq.brokers.stub import StubBroker

from baton.booking import lifecycle
from baton.booking.planning import BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import SlotUnavailable
from baton.bootstrap import bootstrap
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    err,
    load_settings,
    run_embedded,
)
from kernel.ports.bookings import BookingRow

booking_app = typer.Typer(help="Booked meetings: cancel, no-show, reschedule, reassign.", no_args_is_help=True)
app.add_typer(booking_app, name="booking")
SYNC_WAIT_S = 60.0


def _run(change: Callable[[BookingPorts], BookingRow]) -> None:
    """Applies the change, sends the calendar and Salesforce sync, prints the booking as JSON on stdout."""
    settings = load_settings()
    current = bootstrap(settings)
    ports = BookingPorts.of(current.ports)
    try:
        booking = change(ports)
    except lifecycle.BookingNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except lifecycle.BookingEnded as exc:
        err.print(f"{exc}: it cannot change any more")
        raise typer.Exit(EXIT_REJECTED) from None
    except BookingProblems as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except SlotUnavailable as exc:
        starts = ", ".join(slot.start.isoformat() for slot in exc.alternatives) or "none"
        err.print(f"{exc.reason}; nearest free: {starts}")
        raise typer.Exit(EXIT_REJECTED) from None
    lifecycle.send_sync(current.broker, booking.id, ports)
    if isinstance(current.broker, StubBroker):
        run_embedded(current.broker, settings.worker_threads, SYNC_WAIT_S)
    from entrypoints.http.booking_answers import booking_view

    sys.stdout.write(json.dumps(booking_view(ports.bookings.get(booking.id) or booking)) + "\n")
    raise typer.Exit(EXIT_OK)


@booking_app.command("cancel")
def cancel(booking_id: str, reason: Annotated[str, typer.Option(help="why (kept and logged)")] = "cancelled by an operator") -> None:
    """Cancel: the time is freed, the calendar event cancelled, the Salesforce Event updated."""
    _run(lambda ports: lifecycle.cancel(booking_id, reason, ports))


@booking_app.command("no-show")
def no_show(booking_id: str) -> None:
    """Mark the meeting a no-show (fairness counts it unless the pool excludes no-shows)."""
    _run(lambda ports: lifecycle.mark_no_show(booking_id, ports))


@booking_app.command("reschedule")
def reschedule(
    booking_id: str,
    start: Annotated[datetime, typer.Option(help="new start, ISO 8601 with a time zone",
                                            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"])],
    reason: Annotated[str, typer.Option(help="why (logged)")] = "",
) -> None:
    """Move the meeting: the same host when free (pool option), else routed again in the pool."""
    if start.tzinfo is None:
        raise typer.BadParameter(f"{start.isoformat()}: give a time zone, e.g. +00:00", param_hint="--start")
    _run(lambda ports: lifecycle.move(booking_id, ports, start=start, reason=reason))


@booking_app.command("reassign")
def reassign(
    booking_id: str,
    reason: Annotated[str, typer.Option(help="why (logged)")],
    host: Annotated[str | None, typer.Option(help="the pool member to host; default: the pool's choice")] = None,
) -> None:
    """Give the meeting to another pool member at the same time; the previous host is credited back."""
    _run(lambda ports: lifecycle.move(booking_id, ports, exclude_host=host is None, host_id=host, reason=reason))
