"""Operator commands on a pipeline run (embedded broker, SQLite): logs --since, why, stats, dlq show/replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from baton.salesforce.flusher import flush_outbox
from entrypoints.cli import app
from kernel.clock import utc_now
from messages import ChangeType, RecordEvent, StageBatch
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import FLUSH_ATTEMPTS, FLUSH_POLICY, Pipeline

REPO_ROOT = Path(__file__).resolve().parents[4]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The pipeline's store (the ``pipeline`` fixture keeps it at tmp_path/baton.sqlite3)."""
    return {"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}"}


def baton(cli_env: dict[str, str], *args: str) -> Ran:
    """A read-only command in process, on the pipeline's store."""
    env = {**cli_env, "BATON_LOG_LEVEL": "WARNING", "BATON_BROKER_URL": ""}
    logging_config = structlog.get_config()
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        structlog.configure(**logging_config)
    return Ran(result.exit_code, result.stdout, result.stderr)


def baton_process(cli_env: dict[str, str], *args: str) -> Ran:
    """A command in its own process (``dlq replay`` bootstraps its own broker and workers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({**cli_env, "BATON_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO_ROOT)})
    done = subprocess.run([sys.executable, "-m", "baton", *args], check=False, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    return Ran(done.returncode, done.stdout, done.stderr)


def json_lines(result: Ran) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def reassign(event: RecordEvent, tag: str) -> RecordEvent:
    """The same record again, later, as a deliberate reassignment (a new source event id)."""
    return event.model_copy(update={"source_event_id": f"{event.record_id}:{tag}", "change_type": ChangeType.REASSIGN,
                                    "commit_timestamp": event.event_time() + timedelta(hours=1)})


@pytest.fixture
def routed(pipeline: Pipeline) -> Pipeline:
    """Three leads assigned round robin over two members, one held (nobody available), one reassigned."""
    pipeline.apply(team_config(members=2))
    first = [lead_event(n) for n in (1, 2, 3)]
    pipeline.send(first)
    pipeline.drain()
    pipeline.send([reassign(first[0], "again")])
    pipeline.drain()
    for index in (1, 2):
        pipeline.store.decisions.set_member_available(member_id(index), False, utc_now())
    pipeline.send([lead_event(4)])
    pipeline.drain()
    return pipeline


def test_logs_since_filters_by_outcome_team_and_owner(routed: Pipeline, cli_env: dict[str, str]) -> None:
    everything = json_lines(baton(cli_env, "logs", "--since", "1h", "--json"))
    held = json_lines(baton(cli_env, "logs", "--since", "30m", "--outcome", "held", "--json"))
    owner_one = json_lines(baton(cli_env, "logs", "--since", "1h", "--owner", member_id(1), "--team", "Inbound",
                                 "--json"))
    newest = json_lines(baton(cli_env, "logs", "--since", "1h", "--limit", "1", "--json"))

    assert len(everything) == 5 and {log["kind"] for log in everything} == {"assignment"}
    assert [log["record_id"] for log in held] == ["00Q000000000004AAA"]
    assert {log["owner_id"] for log in owner_one} == {member_id(1)} and len(owner_one) == 2
    assert [log["record_id"] for log in newest] == ["00Q000000000004AAA"]


def test_logs_since_in_the_future_is_empty_and_a_bad_span_exits_2(routed: Pipeline, cli_env: dict[str, str]) -> None:
    later = (utc_now() + timedelta(hours=1)).isoformat()
    assert json_lines(baton(cli_env, "logs", "--since", later, "--json")) == []
    bad = baton(cli_env, "logs", "--since", "yesterday")
    assert bad.returncode == 2 and "--since 'yesterday'" in bad.stderr


def test_logs_follow_on_the_embedded_default_says_to_use_since(cli_env: dict[str, str]) -> None:
    result = baton(cli_env, "logs", "--follow")
    assert result.returncode == 2 and "logs --since" in result.stderr and result.stdout == ""


def test_why_traces_every_decision_newest_first_stage_by_stage(routed: Pipeline, cli_env: dict[str, str]) -> None:
    [document] = json_lines(baton(cli_env, "why", "00Q000000000001AAA", "--json"))

    newest, oldest = document["decisions"]
    assert newest["source"]["source_event_id"] == "00Q000000000001AAA:again"
    assert oldest["source"]["source_event_id"] == "00Q000000000001AAA:evt"
    assert document["current"]["routing_id"] == newest["routing_id"]
    assert oldest["owner_id"] == member_id(1) and newest["owner_id"] == member_id(2)
    assert oldest["config"]["version"] == 1 and oldest["config"]["applied_at"]
    stages = oldest["stages"]
    assert stages["classify"]["reasons"][0] == "config v1"
    assert stages["territory"]["reasons"] == ["no territories configured"]
    assert stages["match"]["reasons"] and stages["match"]["duration_ms"] is not None
    assert (stages["assign"]["team"], stages["assign"]["method"]) == ("Inbound", "round_robin")
    assert stages["assign"]["skipped"] == [{"member_id": member_id(2), "reason": "not next in turn"}]
    assert oldest["salesforce_write"]["status"] == "sent" and oldest["salesforce_write"]["attempts"] == 1
    assert document["dead_letters"] == [] and newest["hold"] is None


def test_why_shows_a_held_record_with_its_hold_and_no_owner_write(routed: Pipeline, cli_env: dict[str, str]) -> None:
    [document] = json_lines(baton(cli_env, "why", "00Q000000000004", "--json"))

    [decision] = document["decisions"]
    assert decision["outcome"] == "held"
    assert decision["hold"]["checks"] == 0 and decision["hold"]["reason"]
    assert {skip["member_id"] for skip in decision["stages"]["assign"]["skipped"]} == {member_id(1), member_id(2)}
    assert decision["salesforce_write"]["status"] == "none"
    assert [hold["record_id"] for hold in document["holds"]] == ["00Q000000000004AAA"]


def test_why_table_names_the_path_and_skipped_members(routed: Pipeline, cli_env: dict[str, str]) -> None:
    result = baton(cli_env, "why", "00Q000000000001AAA")
    assert result.returncode == 0, result.stderr
    assert "router path" in result.stdout and f"{member_id(2)}: not next in turn" in result.stdout
    assert "salesforce write" in result.stdout and "status: sent" in result.stdout


def test_why_an_unknown_record_exits_1_and_a_malformed_id_exits_2(routed: Pipeline, cli_env: dict[str, str]) -> None:
    unknown = baton(cli_env, "why", "00Q000000000099AAA")
    malformed = baton(cli_env, "why", "not-an-id")
    assert (unknown.returncode, unknown.stdout) == (1, "") and "no decision" in unknown.stderr
    assert malformed.returncode == 2 and "not a Salesforce record id" in malformed.stderr


def test_stats_counts_members_holds_dead_letters_api_and_latency(routed: Pipeline, cli_env: dict[str, str]) -> None:
    routed.send_raw("territory", {"batch_id": "bad", "contexts": [], "enqueued_at": "2026-11-20T09:00:00Z"})
    routed.drain()
    assert len(stored_dead_letters(routed)) == 1
    routed.store.administration.save_api_usage(1_200, 15_000, utc_now())

    [report] = json_lines(baton(cli_env, "stats", "--today", "--json"))

    assert report["assignments"] == {"total": 4, "teams": {"Inbound": {
        "total": 4, "members": {member_id(1): 2, member_id(2): 2}}}}
    assert report["outcomes"] == {"assigned": 4, "held": 1}
    assert report["held_now"] == {"total": 1, "teams": {"Inbound": 1}}
    assert report["dead_letters"] == {"since": {"territory": 1}, "open": {"territory": 1}}
    assert report["owner_writes"] == {"sent": 4}
    assert {key: report["api"][key] for key in ("used", "limit", "remaining")} == {
        "used": 1_200, "limit": 15_000, "remaining": 13_800}
    latency = report["latency_ms"]
    assert latency["decisions"] == 5
    assert latency["pipeline"]["p95"] >= latency["pipeline"]["p50"] >= 0
    assert set(latency["stages"]) == {"classify", "territory", "match"}


def test_stats_since_a_later_time_counts_nothing(routed: Pipeline, cli_env: dict[str, str]) -> None:
    later = (utc_now() + timedelta(minutes=5)).isoformat()
    [report] = json_lines(baton(cli_env, "stats", "--since", later, "--json"))
    assert report["assignments"]["total"] == 0 and report["latency_ms"]["decisions"] == 0
    assert report["held_now"]["total"] == 1


def test_dlq_show_says_what_failed_why_how_often_with_the_body(pipeline: Pipeline, cli_env: dict[str, str]) -> None:
    letter_id = _dead_lettered_assign(pipeline)

    [shown] = json_lines(baton(cli_env, "dlq", "show", str(letter_id), "--json"))
    [listed] = json_lines(baton(cli_env, "dlq", "list", "--json"))
    table = baton(cli_env, "dlq", "show", str(letter_id))
    missing = baton(cli_env, "dlq", "show", "999")

    assert shown["stage"] == "assign" and shown["attempts"] == 1 and shown["replay_count"] == 0
    assert (listed["id"], listed["attempts"], listed["records"]) == (letter_id, 1, 1)
    assert "config version 2 is not in the store" in shown["reason"]
    assert shown["body"]["args"][0]["contexts"][0]["event"]["record_id"] == "00Q000000000001AAA"
    assert shown["routing_ids"] == [lead_event(1).routing_id]
    assert "config version 2 is not in the store" in table.stdout and '"record_id"' in table.stdout
    assert missing.returncode == 1 and "no dead letter 999" in missing.stderr


def test_a_replayed_dead_letter_is_processed_once_even_when_replayed_twice(pipeline: Pipeline, cli_env: dict[str, str]) -> None:
    letter_id = _dead_lettered_assign(pipeline)
    pipeline.apply(team_config(members=3))  # the fix: config version 2 now exists

    first = baton_process(cli_env, "dlq", "replay", str(letter_id))
    second = baton_process(cli_env, "dlq", "replay", str(letter_id))
    unknown = baton_process(cli_env, "dlq", "replay", "999")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert pipeline.store.decisions.count_assignments() == 1
    assert pipeline.store.decisions.team_decisions("Inbound") == 1
    assert sum(pipeline.store.outbox.summary().values()) == 1
    assert json_lines(baton(cli_env, "dlq", "list", "--json")) == []
    [letter] = pipeline.store.administration.dead_letters(include_replayed=True)
    assert letter.replay_count == 2
    assert unknown.returncode == 1 and "no dead letter 999" in unknown.stderr


def _dead_lettered_assign(pipeline: Pipeline) -> int:
    """An assign message pinned to a config version the store does not have yet: dead-lettered at once."""
    pipeline.apply(team_config(members=2))
    batch = StageBatch.model_validate(
        {"batch_id": "b1", "contexts": [{"event": lead_event(1).model_dump(mode="json"), "config_version": 2}],
         "enqueued_at": "2026-11-20T09:00:00Z"})
    pipeline.send_raw("assign", batch.model_dump(mode="json"))
    pipeline.drain()
    [letter] = stored_dead_letters(pipeline)
    return letter.id


def stored_dead_letters(pipeline: Pipeline) -> list[Any]:
    """The recorder stores a letter just after the broker's nack, so a drained queue may be a moment early."""
    deadline = time.monotonic() + 10
    while not pipeline.store.administration.dead_letters() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pipeline.store.administration.dead_letters()


def test_why_lists_dead_letters_that_carry_the_record(pipeline: Pipeline, cli_env: dict[str, str]) -> None:
    letter_id = _dead_lettered_assign(pipeline)

    [document] = json_lines(baton(cli_env, "why", "00Q000000000001AAA", "--json"))
    other = baton(cli_env, "why", "00Q000000000002AAA")

    assert document["decisions"] == []
    assert [(letter["id"], letter["stage"]) for letter in document["dead_letters"]] == [(letter_id, "assign")]
    assert "config version 2" in document["dead_letters"][0]["reason"]
    assert other.returncode == 1


def test_why_shows_an_older_owner_write_superseded_by_the_newer_decision(
    pipeline: Pipeline, cli_env: dict[str, str]
) -> None:
    """The first owner's write fails once and waits; the record is reassigned meanwhile: the first write is never
    sent, and ``why`` names the decision that superseded it."""
    pipeline.apply(team_config(members=2))
    first = lead_event(1)
    pipeline.send([first])
    pipeline.route()
    pipeline.writer.failures = 1
    flush_outbox(pipeline.store.outbox, pipeline.store.administration, pipeline.writer, utc_now(), FLUSH_POLICY)
    pipeline.send([reassign(first, "again")])
    pipeline.drain()

    [document] = json_lines(baton(cli_env, "why", first.record_id, "--json"))
    table = baton(cli_env, "why", first.record_id)

    newest, oldest = document["decisions"]
    assert newest["salesforce_write"]["status"] == "sent" and newest["salesforce_write"]["sequence"] == 2
    written = oldest["salesforce_write"]
    assert (written["status"], written["superseded_by"], written["sequence"]) == ("superseded", newest["routing_id"], 1)
    assert "503" in written["last_error"]
    assert [change.owner_id for change in pipeline.writer.written] == [newest["owner_id"]]
    assert f"superseded_by: {newest['routing_id']}" in table.stdout


def test_why_shows_a_failed_owner_write_with_its_attempts_error_and_dead_letter(
    pipeline: Pipeline, cli_env: dict[str, str]
) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.writer.failures = 100  # Salesforce keeps answering 503
    pipeline.send([lead_event(1)])
    pipeline.drain()

    [document] = json_lines(baton(cli_env, "why", "00Q000000000001AAA", "--json"))
    [listed] = json_lines(baton(cli_env, "dlq", "list", "--json"))

    write = document["decisions"][0]["salesforce_write"]
    assert (write["status"], write["attempts"]) == ("failed", FLUSH_ATTEMPTS)
    assert "503" in write["last_error"]
    [letter] = document["dead_letters"]
    assert letter["stage"] == "outbox" and "503" in letter["reason"]
    assert (listed["stage"], listed["attempts"]) == ("outbox", None)


def test_held_lists_a_held_record_with_its_reason_and_a_recheck_routes_it_once_someone_is_back(
    routed: Pipeline, cli_env: dict[str, str]
) -> None:
    [held] = json_lines(baton(cli_env, "held", "--json"))
    assert (held["record_id"], held["team"], held["status"]) == (lead_event(4).record_id, "Inbound", "held")
    assert "unavailable" in held["reason"] and held["recheck_at"]

    assert baton(cli_env, "member", "available", member_id(2)).returncode == 0
    rechecked = baton_process(cli_env, "held", "recheck")

    assert rechecked.returncode == 0, rechecked.stderr[-2000:]
    assert rechecked.stdout.strip() == "1 held record(s) re-checked"
    assert json_lines(baton(cli_env, "held", "--json")) == []
    [trace] = json_lines(baton(cli_env, "why", lead_event(4).record_id, "--json"))
    assert trace["decisions"][0]["owner_id"] == member_id(2)


def test_dlq_list_and_replay_by_stage_leave_the_other_stages_letters_alone(
    pipeline: Pipeline, cli_env: dict[str, str]
) -> None:
    assign_letter = _dead_lettered_assign(pipeline)
    pipeline.send_raw("classify", {"batch_id": "bad", "contexts": "not a list"})  # malformed: dead-lettered at once
    pipeline.drain()
    deadline = time.monotonic() + 10
    while len(pipeline.store.administration.dead_letters()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    pipeline.apply(team_config(members=3))  # the fix for the assign letter

    [only_assign] = json_lines(baton(cli_env, "dlq", "list", "--stage", "assign", "--json"))
    usage = baton_process(cli_env, "dlq", "replay")
    replayed = baton_process(cli_env, "dlq", "replay", "--stage", "assign")

    assert only_assign["id"] == assign_letter and only_assign["records"] == 1
    assert usage.returncode == 2 and "--all, or --stage" in usage.stderr
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert pipeline.store.decisions.count_assignments() == 1
    assert [letter["stage"] for letter in json_lines(baton(cli_env, "dlq", "list", "--json"))] == ["classify"]
    every = json_lines(baton(cli_env, "dlq", "list", "--all", "--json"))
    assert {(letter["stage"], letter["replayed_at"] is not None) for letter in every} == {("assign", True),
                                                                                           ("classify", False)}
