"""``baton member``: availability, out of office, tags and team membership, through the same member
administration as the ``/v1`` admin API (``baton.members.admin``): each change audited with the OS user who ran
it, in force for the next decision. An unknown member or team, or no config applied, exits 1; a value the config
refuses exits 2 naming the field."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from baton.bootstrap import open_store
from baton.configs import ConfigProvider
from baton.logging import configure_logging
from baton.members.admin import Actor, InvalidChange, MemberAdmin, MemberExists, NoConfig, NotFound
from entrypoints.cli.common import EXIT_REJECTED, EXIT_USAGE, load_settings, member_app, out, say
from kernel.clock import utc_now
from kernel.ports.audit import AuditEntry

Reason = Annotated[str, typer.Option(help="why (kept in the audit; `baton why` shows it for a skipped member)")]
Team = Annotated[str, typer.Option(help="the team (as the org config names it)")]


def cli_actor() -> Actor:
    """The OS user who ran the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        user = os.environ.get("USER") or f"uid {os.getuid()}"
    return Actor("cli", user)


def _admin() -> MemberAdmin:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(settings)
    return MemberAdmin(store.administration, ConfigProvider(store.administration), store.decisions, store.holds,
                       store.audit, utc_now)


def _change(change: Callable[[MemberAdmin, Actor], AuditEntry], done: str) -> None:
    try:
        entry = change(_admin(), cli_actor())
    except (NotFound, NoConfig, MemberExists) as exc:
        say(str(exc))
        raise typer.Exit(EXIT_REJECTED) from None
    except InvalidChange as exc:
        for path, message in exc.problems:
            say(f"{path}: {message}")
        raise typer.Exit(EXIT_USAGE) from None
    version = f" (config version {entry.config_version})" if entry.config_version is not None else ""
    out.print(f"{done}{version}")


@member_app.command("available")
def member_available(user: str, reason: Reason = "") -> None:
    """Mark a member available for routing again (held records are re-checked)."""
    _change(lambda admin, actor: admin.set_available(actor, user, True, reason), f"{user}: available")


@member_app.command("unavailable")
def member_unavailable(user: str, reason: Reason = "") -> None:
    """Take a member out of routing until marked available (--reason: the logout reason)."""
    _change(lambda admin, actor: admin.set_available(actor, user, False, reason), f"{user}: unavailable")


def _instant(value: str | None, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        say(f"{option} {value!r}: give an ISO time with its offset, e.g. 2030-01-06T09:00:00+01:00")
        raise typer.Exit(EXIT_USAGE)
    return parsed


@member_app.command("ooo")
def member_ooo(
    user: str,
    start: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    end: Annotated[str | None, typer.Option(help="ISO time with offset, after --start")] = None,
    reason: Annotated[str, typer.Option(help="why (the skip reason routing gives)")] = "out of office",
    clear: Annotated[bool, typer.Option("--clear", help="the member is back: no out-of-office period")] = False,
) -> None:
    """Set a member out of office from --start to --end (replacing their periods), or --clear it."""
    if clear:
        if start or end:
            say("--clear takes no --start or --end")
            raise typer.Exit(EXIT_USAGE)
        _change(lambda admin, actor: admin.clear_out_of_office(actor, user), f"{user}: back in office")
        return
    begins, ends = _instant(start, "--start"), _instant(end, "--end")
    if ends <= begins:
        say(f"--end {end} is not after --start {start}")
        raise typer.Exit(EXIT_USAGE)
    _change(lambda admin, actor: admin.set_out_of_office(actor, user, begins, ends, reason),
            f"{user}: out of office {begins.isoformat()} - {ends.isoformat()}")


@member_app.command("tags")
def member_tags(user: str, tags: Annotated[list[str] | None, typer.Argument(help="the skill tags")] = None,
                reason: Reason = "") -> None:
    """Set a member's skill tags (their skills in every team listing them; none: no tags)."""
    chosen = tags or []
    _change(lambda admin, actor: admin.set_tags(actor, user, chosen, reason), f"{user}: tags {', '.join(chosen) or '-'}")


def _member_keys(name: str | None, weight: int | None, tier: int | None, skills: str | None, per_day: int | None,
                 per_week: int | None, per_month: int | None) -> dict[str, Any]:
    keys: dict[str, Any] = {"name": name, "weight": weight, "tier": tier,
                            "skills": sorted({skill.strip() for skill in skills.split(",") if skill.strip()})
                            if skills is not None else None}
    caps = {"per_day": per_day, "per_week": per_week, "per_month": per_month}
    if any(value is not None for value in caps.values()):
        keys["caps"] = {key: value for key, value in caps.items() if value is not None}
    return {key: value for key, value in keys.items() if value is not None}


Name = Annotated[str | None, typer.Option(help="display name")]
Weight = Annotated[int | None, typer.Option(help="weight (weighted methods)")]
Tier = Annotated[int | None, typer.Option(help="tier (tiered methods)")]
Skills = Annotated[str | None, typer.Option(help="comma-separated skills")]
PerDay = Annotated[int | None, typer.Option(help="cap: records per day")]
PerWeek = Annotated[int | None, typer.Option(help="cap: records per week")]
PerMonth = Annotated[int | None, typer.Option(help="cap: records per month")]


@member_app.command("add")
def member_add(user: str, team: Team, name: Name = None, weight: Weight = None, tier: Tier = None,
               skills: Skills = None, per_day: PerDay = None, per_week: PerWeek = None,
               per_month: PerMonth = None, reason: Reason = "") -> None:
    """Add a member to a team (a new config version)."""
    member = {"id": user, **_member_keys(name, weight, tier, skills, per_day, per_week, per_month)}
    _change(lambda admin, actor: admin.add_member(actor, team, member, reason), f"{user}: added to {team}")


@member_app.command("set")
def member_set(user: str, team: Team, name: Name = None, weight: Weight = None, tier: Tier = None,
               skills: Skills = None, per_day: PerDay = None, per_week: PerWeek = None,
               per_month: PerMonth = None, reason: Reason = "") -> None:
    """Change a team member's name, weight, tier, skills or caps (a new config version)."""
    changes = _member_keys(name, weight, tier, skills, per_day, per_week, per_month)
    if not changes:
        say("nothing to change: give --name, --weight, --tier, --skills or a cap")
        raise typer.Exit(EXIT_USAGE)
    _change(lambda admin, actor: admin.change_member(actor, team, user, changes, reason),
            f"{user}: {', '.join(f'{key} {value}' for key, value in changes.items())} in {team}")


@member_app.command("remove")
def member_remove(user: str, team: Team, reason: Reason = "") -> None:
    """Take a member out of a team (a new config version)."""
    _change(lambda admin, actor: admin.remove_member(actor, team, user, reason), f"{user}: removed from {team}")
