"""``baton pull --member ID``: a member of a pull team takes the next record waiting in the team's queue."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from dramatiq.brokers.stub import StubBroker

from baton.assignment.ports import AssignmentPorts
from baton.assignment.pull import Pulled, PullRefused, pull, pull_teams
from baton.bootstrap import bootstrap, build_flusher
from entrypoints.cli.common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, app, err, load_settings
from kernel.errors import TransientError


@app.command("pull")
def pull_command(
    member: Annotated[str, typer.Option("--member", help="the Salesforce user id of the member pulling")],
    team: Annotated[str | None, typer.Option(help="the pull team's queue (default: each pull team of the member, "
                                                  "in the config's order, until one has a record for them)")] = None,
) -> None:
    """Assign the member the highest-priority record waiting in a pull team's queue that they may take; prints
    one JSON object (``pulled`` false with the reason when there is none)."""
    settings = load_settings()
    current = bootstrap(settings)
    ports = AssignmentPorts.of(current.ports)
    teams = [team] if team is not None else pull_teams(ports.configs.current()[1], member)
    if not teams:
        err.print(f"{member} is a member of no team using the pull method")
        raise typer.Exit(EXIT_USAGE)
    pulled = Pulled(None, "none")
    try:
        for name in teams:
            pulled = pull(name, member, ports)
            if pulled.log is not None:
                break
    except PullRefused as exc:
        err.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except TransientError as exc:
        err.print(f"nothing pulled, pull again: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    if pulled.log is None:
        sys.stdout.write(json.dumps({"pulled": False, "reason": pulled.reason}) + "\n")
        raise typer.Exit(EXIT_OK)
    if isinstance(current.broker, StubBroker):
        build_flusher(current).tick()  # the embedded default has no flusher running: the new owner written now
    log = pulled.log
    sys.stdout.write(json.dumps({"pulled": True, "routing_id": log.routing_id, "object_type": log.object_type,
                                 "record_id": log.record_id, "owner_id": log.owner_id, "team": log.team}) + "\n")
    raise typer.Exit(EXIT_OK)
