"""Operator commands: the log stream (``logs``), a record's trace (``why``), ``stats`` and ``dlq show``."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer
from pika.exceptions import AMQPError
from rich.table import Table

from adapters.logstream import LogFollower, binding_keys
from adapters.logstream.keys import KINDS
from adapters.store import Store
from adapters.store.operations import delivery_attempts
from baton.booking.chain import booking_log
from baton.bootstrap import open_store
from baton.logging import configure_logging
from baton.operations.stats import report
from baton.operations.why import record_trace
from baton.settings import Settings
from baton.since import parse_since, start_of_day
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    app,
    dlq_app,
    err,
    load_settings,
    out,
    say,
)
from kernel.clock import utc_now
from kernel.errors import InputError
from kernel.ports.operations import LogFilter

DEFAULT_SINCE = "1h"
RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
ROW_COLUMNS = (("time", 8), ("kind", 10), ("record", 18), ("object", 11), ("outcome", 10), ("owner", 18),
               ("team", 16), ("method", 14), ("why", 48))
BOOKING_COLUMNS = {"outcome": "status", "owner_id": "host_id", "team": "pool", "method": "booking_type"}



def _store(settings: Settings) -> Store:
    configure_logging(settings.log_level, settings.log_format)
    return open_store(settings)


def _since(text: str) -> Any:
    try:
        return parse_since(text, utc_now())
    except InputError as exc:
        say(str(exc))
        raise typer.Exit(EXIT_USAGE) from None


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def _row_view(entry: dict[str, Any]) -> dict[str, Any]:
    """A booking log seen in the assignment columns (status, host, pool, type), so filters and rows apply."""
    if entry.get("kind") != "booking":
        return entry
    return {**entry, **{column: entry.get(field) for column, field in BOOKING_COLUMNS.items()},
            "decided_at": entry.get("decided_at") or entry.get("start"),
            "reasons": [entry.get("error") or entry.get("subject") or entry.get("booking_id") or "-"]}


def _row_table(entries: list[dict[str, Any]], header: bool, title: str | None = None) -> Table:
    """Fixed column widths, so rows printed one at a time while following still line up."""
    table = Table(title=title, show_header=header, box=None, pad_edge=False)
    for name, width in ROW_COLUMNS:
        table.add_column(name, min_width=width, no_wrap=True, overflow="ellipsis")
    for entry in entries:
        decided = str(entry.get("decided_at") or "")
        table.add_row(decided[11:19], entry.get("kind", "assignment"), entry.get("record_id", "-"),
                      entry.get("object_type", "-"), entry.get("outcome", "-"), entry.get("owner_id") or "-",
                      entry.get("team") or "-", entry.get("method") or "-", (entry.get("reasons") or ["-"])[-1])
    return table


@app.command()
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="tail the live log stream (RabbitMQ)")] = False,
    since: Annotated[str | None, typer.Option(help="history from the store: 30m, 1h, 2d or an ISO time")] = None,
    team: Annotated[list[str] | None, typer.Option(help="team name (each filter is repeatable)")] = None,
    object_type: Annotated[list[str] | None, typer.Option("--object", help="object type, e.g. Lead")] = None,
    outcome: Annotated[list[str] | None, typer.Option(
        help="assigned, held, not_routed, stale, stopped, failed; bookings: confirmed, failed")] = None,
    owner: Annotated[list[str] | None, typer.Option(
        help="owner (of a booking: host) user id, filtered client-side when following")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="assignment or booking (default: both)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="history: at most this many, the newest")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="one log object per line")] = False,
    count: Annotated[int | None, typer.Option(min=1, help="following: stop after this many logs")] = None,
    timeout_s: Annotated[float | None, typer.Option(help="following: stop after this many seconds")] = None,
) -> None:
    """Assignment and booking logs: live from the log stream (--follow) or from the store (--since, default 1h)."""
    filters = LogFilter(teams=team or (), objects=object_type or (), outcomes=outcome or (), owners=owner or ())
    settings = load_settings()
    if follow:
        if since is not None:
            say("--follow and --since: pick one (history first, then follow, is two commands)")
            raise typer.Exit(EXIT_USAGE)
        _follow(settings, filters, kind or [], as_json, count, timeout_s)
        return
    start = _since(since or DEFAULT_SINCE)
    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        say(f"unknown --kind {', '.join(unknown)} (use {' or '.join(KINDS)})")
        raise typer.Exit(EXIT_USAGE)
    entries = _history(_store(settings), start, filters, set(kind or KINDS), limit)
    if as_json:
        for entry in entries:
            _print_json(entry)
        return
    out.print(_row_table([_row_view(entry) for entry in entries], header=True, title=f"Logs since {start.isoformat()}"))
    err.print(f"{len(entries)} log(s)")


def _history(store: Store, start: datetime, filters: LogFilter, kinds: set[str], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` logs of these kinds since ``start``, oldest first: assignment logs, and the booking
    logs of bookings that ended (filters read a booking's pool, status and host as team, outcome and owner)."""
    entries: list[dict[str, Any]] = []
    if "assignment" in kinds:
        entries += [{"kind": "assignment", **entry}
                    for entry in store.operations.history(start, filters, limit)]
    if "booking" in kinds:
        ended = store.bookings.ended_since(start, limit, pools=filters.teams, objects=filters.objects,
                                           statuses=filters.outcomes, hosts=filters.owners)
        entries += [{"kind": "booking", **booking_log(row).model_dump(mode="json")} for row in ended]
    entries.sort(key=lambda entry: datetime.fromisoformat(str(entry["decided_at"])))
    return entries[-limit:]


def _follow(settings: Settings, filters: LogFilter, kinds: list[str], as_json: bool, count: int | None,
            timeout_s: float | None) -> None:
    if not settings.uses_rabbitmq:
        say("logs --follow needs the RabbitMQ log stream (set BATON_BROKER_URL); "
            "the embedded default keeps its logs in the store: use logs --since")
        raise typer.Exit(EXIT_USAGE)
    configure_logging(settings.log_level, settings.log_format)
    keys = binding_keys(kinds, filters.objects, filters.teams, filters.outcomes)
    try:
        follower = LogFollower(settings.broker_url, settings.log_exchange_name, keys)
    except (AMQPError, OSError) as exc:
        say(f"cannot follow the log stream at {settings.log_exchange_name}: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    say(f"following {settings.log_exchange_name} with keys {' '.join(keys)}")
    deadline = time.monotonic() + timeout_s if timeout_s is not None else None
    shown = 0
    try:
        for _key, entry in follower.entries(deadline):
            if not filters.keeps(_row_view(entry)):
                continue
            if as_json:
                _print_json(entry)
            else:
                out.print(_row_table([_row_view(entry)], header=shown == 0))
            shown += 1
            if count is not None and shown >= count:
                break
    except KeyboardInterrupt:
        pass
    except (AMQPError, OSError) as exc:
        say(f"lost the log stream: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    finally:
        follower.close()


@app.command()
def why(
    record_id: Annotated[str, typer.Argument(help="Salesforce record id (15 or 18 characters)")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole trace as one JSON object")] = False,
) -> None:
    """Why a record went where it went: every decision (newest first), stage by stage, and its write."""
    if not RECORD_ID.match(record_id):
        say(f"{record_id!r} is not a Salesforce record id (15 or 18 letters and digits)")
        raise typer.Exit(EXIT_USAGE)
    found = _store(load_settings()).operations.record_trace(record_id)
    document = record_trace(record_id, found)
    if not (document["decisions"] or document["holds"] or document["dead_letters"]):
        say(f"{record_id}: no decision, hold or dead letter in the store")
        raise typer.Exit(EXIT_REJECTED)
    if as_json:
        _print_json(document)
        return
    _print_trace(document)


def _lines(values: list[Any]) -> str:
    return "\n".join(str(value) for value in values) or "-"


def suggestion_lines(suggestion: dict[str, Any] | None) -> list[str]:
    """The router path's booking suggestion, one line per part: what, whether locked, from which node."""
    if not suggestion:
        return []
    lines = []
    if suggestion.get("host"):
        host = suggestion["host"]
        target = host.get("user_id") or host.get("team") or ""
        locked = "locked" if suggestion.get("lock_host") else "preselected"
        lines.append(f"host {host['kind']} {target}".rstrip() + f" ({locked}, node {suggestion.get('host_node')})")
    if suggestion.get("meeting_type"):
        locked = "locked" if suggestion.get("lock_meeting_type") else "preselected"
        lines.append(f"meeting type {suggestion['meeting_type']} ({locked}, node {suggestion.get('meeting_type_node')})")
    return lines


def _print_trace(document: dict[str, Any]) -> None:
    current = document["current"]
    if current:
        out.print(f"[bold]{document['record_id']}[/bold]: current owner per Baton {current.get('owner_id') or '-'} "
                  f"(routing {current['routing_id']})")
    for number, item in enumerate(document["decisions"], 1):
        stages = item["stages"]
        out.rule(f"decision {number}: {item['decided_at']} {item['outcome']} -> {item['owner_id'] or '-'}")
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column("what", style="bold", no_wrap=True)
        table.add_column("detail", overflow="fold")
        source = item["source"]
        table.add_row("event", f"{source['source']} {source['source_event_id']} at {source['event_at']} "
                               f"(routing id {item['routing_id']}, previous owner {item['previous_owner_id'] or '-'})")
        config = item["config"]
        table.add_row("config", f"version {config['version']} applied {config['applied_at'] or '?'}")
        classify = stages["classify"]
        table.add_row("classify", _lines([f"stamp {key} = {value}" for key, value in classify["stamps"].items()]
                                         + [f"tags: {', '.join(classify['tags']) or '-'}"] + classify["reasons"]))
        territory = stages["territory"]
        table.add_row("territory", _lines([f"{territory['name'] or '-'} -> team {territory['team'] or '-'}",
                                           *territory["reasons"]]))
        match = stages["match"]
        matched = (f"{match.get('object_type')} {match.get('record_id')} owner {match.get('owner_id')} "
                   f"({match.get('method')}, score {match.get('score')})") if match.get("record_id") else "no match"
        table.add_row("match", _lines([matched, *([match["reason"]] if match.get("reason") else []),
                                       *[reason for reason in match["reasons"] if reason != match.get("reason")]]))
        assign = stages["assign"]
        table.add_row("router path", _lines([f"{step['node']}: {step['outcome']}" +
                                             (f" ({step['reason']})" if step.get("reason") else "")
                                             for step in assign["path"]]))
        table.add_row("assign", _lines([(f"team {assign['team'] or '-'}, method {assign['method'] or '-'}, "
                                         f"owner {assign['owner_id'] or '-'}"), *assign["reasons"]]))
        table.add_row("skipped", _lines([f"{skip['member_id']}: {skip['reason']}" for skip in assign["skipped"]]))
        if assign.get("member_changes"):
            table.add_row("member changes", _lines([
                f"{change['member_id']}: {change['action']} by {change['by']['name']} ({change['by']['id']}) at "
                f"{change['at']}" + (f": {change['reason']}" if change["reason"] else "")
                for change in assign["member_changes"]]))
        if assign.get("booking_suggestion"):
            table.add_row("booking suggestion", _lines(suggestion_lines(assign["booking_suggestion"])))
        write = item["salesforce_write"]
        table.add_row("salesforce write", _lines([f"{key}: {value}" for key, value in write.items()
                                                  if value is not None]))
        if item["hold"]:
            table.add_row("held", _lines([f"{key}: {value}" for key, value in item["hold"].items()]))
        out.print(table)
    if document["dead_letters"]:
        out.rule("dead letters")
        for letter in document["dead_letters"]:
            out.print(f"#{letter['id']} {letter['stage']} at {letter['failed_at']} "
                      f"(replayed {letter['replay_count']}x): {letter['reason']}")


@app.command()
def stats(
    today: Annotated[bool, typer.Option("--today", help="since midnight UTC (the default)")] = False,
    since: Annotated[str | None, typer.Option(help="since: 30m, 1h, 2d or an ISO time")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the report as one JSON object")] = False,
) -> None:
    """Assignments per team and member, held records, dead letters, API calls, p95 latency."""
    if today and since:
        say("--today and --since: pick one")
        raise typer.Exit(EXIT_USAGE)
    start = _since(since) if since else start_of_day(utc_now())
    document = report(_store(load_settings()).operations.figures(start))
    if as_json:
        _print_json(document)
        return
    _print_stats(document)


def _pairs_table(title: str, header: tuple[str, str], rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column(header[0])
    table.add_column(header[1], justify="right")
    for key, value in rows:
        table.add_row(key, "-" if value is None else str(value))
    return table


def _print_stats(document: dict[str, Any]) -> None:
    out.print(f"since {document['since']}")
    members = Table(title=f"Assignments ({document['assignments']['total']})")
    for column in ("team", "member", "records"):
        members.add_column(column, justify="right" if column == "records" else "left")
    for team, entry in document["assignments"]["teams"].items():
        members.add_row(team, "(all)", str(entry["total"]), style="bold")
        for member, count in entry["members"].items():
            members.add_row("", member, str(count))
    out.print(members)
    out.print(_pairs_table("Outcomes", ("outcome", "records"), list(document["outcomes"].items())))
    held = document["held_now"]
    out.print(_pairs_table(f"Held now ({held['total']})", ("team", "records"), list(held["teams"].items())))
    letters = document["dead_letters"]
    stages = sorted(set(letters["since"]) | set(letters["open"]))
    table = Table(title="Dead letters")
    for column in ("stage", "in window", "not replayed"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in stages:
        table.add_row(stage, str(letters["since"].get(stage, 0)), str(letters["open"].get(stage, 0)))
    out.print(table)
    out.print(_pairs_table("Owner writes", ("status", "rows"), list(document["owner_writes"].items())))
    api = document["api"]
    out.print(_pairs_table("Salesforce API requests (daily)", ("what", "requests"), [
        ("used", api and api["used"]), ("limit", api and api["limit"]), ("remaining", api and api["remaining"]),
        ("observed at", api and api["observed_at"])]))
    latency = document["latency_ms"]
    table = Table(title=f"Latency, ms ({latency['decisions']} decisions)")
    for column in ("what", "p50", "p95"):
        table.add_column(column, justify="left" if column == "what" else "right")
    rows = [("enqueue -> decision", latency["pipeline"]), ("event -> decision", latency["since_event"])]
    rows += [(f"stage {stage}", values) for stage, values in latency["stages"].items()]
    for what, values in rows:
        table.add_row(what, str(values["p50"] if values["p50"] is not None else "-"),
                      str(values["p95"] if values["p95"] is not None else "-"))
    out.print(table)


@dlq_app.command("show")
def dlq_show(
    letter_id: Annotated[int, typer.Argument(help="dead-letter id (from dlq list)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """What failed, why, how many times, and the message body."""
    letter = _store(load_settings()).administration.dead_letter(letter_id)
    if letter is None:
        say(f"no dead letter {letter_id}")
        raise typer.Exit(EXIT_REJECTED)
    document = {
        "id": letter.id, "stage": letter.stage, "actor": letter.actor_name, "queue": letter.queue_name,
        "message_id": letter.message_id, "failed_at": letter.failed_at.isoformat(), "reason": letter.reason,
        "attempts": delivery_attempts(letter), "replay_count": letter.replay_count,
        "replayed_at": letter.replayed_at and letter.replayed_at.isoformat(), "routing_ids": letter.routing_ids,
        "body": {"args": letter.message.get("args", []), "kwargs": letter.message.get("kwargs", {})},
    }
    if as_json:
        _print_json(document)
        raise typer.Exit(EXIT_OK)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for key in ("id", "stage", "actor", "queue", "message_id", "failed_at", "attempts", "replay_count",
                "replayed_at", "reason"):
        table.add_row(key.replace("_", " "), str(document[key]))
    table.add_row("records", _lines(letter.routing_ids))
    out.print(table)
    out.print_json(json.dumps(document["body"], default=str))
