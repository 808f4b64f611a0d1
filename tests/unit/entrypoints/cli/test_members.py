"""``baton member``: the same member administration as the admin API: each change audited with the OS user who
ran it and in force for the next record; an unknown member or team is refused (exit 1, named), a value the
config refuses exits 2 naming the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.store import Store
from entrypoints.cli import app
from entrypoints.cli.members import cli_actor
from kernel.clock import utc_now
from routing.config import load_config_text
from routing.teams import Team
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

ONE, TWO, NEW = member_id(1), member_id(2), member_id(9)
NOBODY = "005000000000404AAA"


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def baton(pipeline: Pipeline, tmp_path: Path) -> object:
    env = {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING",
           "BATON_BROKER_URL": ""}

    def run(*args: str) -> Ran:
        result = CliRunner().invoke(app, list(args), env=env)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


def route(pipeline: Pipeline, *numbers: int) -> set[str | None]:
    pipeline.send([lead_event(number) for number in numbers])
    pipeline.drain()
    owners = {log.record_id: log.owner_id for log in pipeline.sink.published}
    return {owners[lead_event(number).record_id] for number in numbers}


def inbound(pipeline: Pipeline) -> Team:
    stored = pipeline.store.administration.latest_config()
    assert stored is not None
    return load_config_text(stored.body).team("Inbound")


def test_unavailable_with_a_reason_is_audited_in_force_and_shown_by_why(
        pipeline: Pipeline, baton: object, keep_logging_config: None) -> None:
    pipeline.apply(team_config(members=2))

    ran = baton("member", "unavailable", ONE, "--reason", "logged out: training")  # type: ignore[operator]

    assert ran.code == 0 and ran.stdout.strip() == f"{ONE}: unavailable"
    [entry] = pipeline.store.audit.entries()
    assert (entry.actor, entry.action, entry.member_id, entry.reason) == (
        cli_actor(), "set_unavailable", ONE, "logged out: training")
    assert route(pipeline, 1, 2, 3) == {TWO}
    why = baton("why", lead_event(1).record_id, "--json")  # type: ignore[operator]
    [change] = json.loads(why.stdout)["decisions"][0]["stages"]["assign"]["member_changes"]
    assert (change["member_id"], change["reason"], change["by"]["id"]) == (ONE, "logged out: training", "cli")
    text = baton("why", lead_event(1).record_id)  # type: ignore[operator]
    assert "set_unavailable by" in text.stdout and "logged out: training" in text.stdout

    assert baton("member", "available", ONE).code == 0  # type: ignore[operator]
    with Store(pipeline.store.engine).decisions.transaction() as unit:  # what a process reading afresh sees
        assert unit.unavailable_members() == set()
    assert [entry.action for entry in pipeline.store.audit.entries()] == ["set_available", "set_unavailable"]


def test_an_unknown_member_or_team_is_refused_and_nothing_is_changed(
        pipeline: Pipeline, baton: object, keep_logging_config: None) -> None:
    none_applied = baton("member", "unavailable", ONE)  # type: ignore[operator]
    version = pipeline.apply(team_config(members=2))
    refusals = [baton(*args) for args in (  # type: ignore[operator]
        ("member", "unavailable", NOBODY), ("member", "available", NOBODY), ("member", "tags", NOBODY, "x"),
        ("member", "ooo", NOBODY, "--clear"), ("member", "set", NOBODY, "--team", "Inbound", "--weight", "2"),
        ("member", "remove", NOBODY, "--team", "Inbound"))]
    no_team = baton("member", "add", NEW, "--team", "Outbound")  # type: ignore[operator]

    assert none_applied.code == 1 and "baton config apply" in none_applied.stderr
    assert [ran.code for ran in refusals] == [1] * 6 and all(NOBODY in ran.stderr for ran in refusals)
    assert no_team.code == 1 and "'Outbound'" in no_team.stderr
    assert pipeline.store.audit.entries() == []
    assert pipeline.store.administration.latest_config().version == version  # type: ignore[union-attr]
    with pipeline.store.decisions.transaction() as unit:
        assert unit.unavailable_members() == set()


def test_add_set_and_remove_make_config_versions_routing_follows(
        pipeline: Pipeline, baton: object, keep_logging_config: None) -> None:
    pipeline.apply(team_config(members=2, method="weighted"))

    added = baton("member", "add", NEW, "--team", "Inbound", "--name", "Rep 9", "--skills", "french,spanish",  # type: ignore[operator]
                  "--per-day", "10")
    assert added.code == 0 and "config version 2" in added.stdout
    member = inbound(pipeline).member(NEW)
    assert member is not None and member.skills == {"french", "spanish"} and member.caps.per_day == 10

    assert baton("member", "set", ONE, "--team", "Inbound", "--weight", "0").code == 0  # type: ignore[operator]
    assert baton("member", "remove", TWO, "--team", "Inbound").code == 0  # type: ignore[operator]
    assert route(pipeline, 1, 2, 3) == {NEW}
    assert [entry.action for entry in pipeline.store.audit.entries()] == ["remove_member", "change_member", "add_member"]

    bad = baton("member", "set", NEW, "--team", "Inbound", "--weight", "-1")  # type: ignore[operator]
    nothing = baton("member", "set", NEW, "--team", "Inbound")  # type: ignore[operator]
    assert bad.code == 2 and "members[" in bad.stderr and "weight" in bad.stderr
    assert nothing.code == 2 and "nothing to change" in nothing.stderr


def test_out_of_office_and_tags(pipeline: Pipeline, baton: object, keep_logging_config: None) -> None:
    pipeline.apply(team_config(members=2))
    now = utc_now()

    away = baton("member", "ooo", TWO, "--start", (now - timedelta(hours=1)).isoformat(),  # type: ignore[operator]
                 "--end", (now + timedelta(hours=1)).isoformat(), "--reason", "sick")
    assert away.code == 0
    [period] = inbound(pipeline).member(TWO).out_of_office  # type: ignore[union-attr]
    assert period.reason == "sick"
    assert route(pipeline, 1, 2) == {ONE}
    assert baton("member", "ooo", TWO, "--clear").code == 0  # type: ignore[operator]
    assert inbound(pipeline).member(TWO).out_of_office == []  # type: ignore[union-attr]

    naive = baton("member", "ooo", TWO, "--start", "2030-01-01T09:00", "--end", "2030-01-02T09:00")  # type: ignore[operator]
    assert naive.code == 2 and "--start" in naive.stderr

    assert baton("member", "tags", ONE, "french", "german").code == 0  # type: ignore[operator]
    assert inbound(pipeline).member(ONE).skills == {"french", "german"}  # type: ignore[union-attr]
    assert [entry.action for entry in pipeline.store.audit.entries()] == [
        "set_tags", "clear_out_of_office", "set_out_of_office"]
