"""``baton pull --member ID``: records of a pull team wait in its queue after ``baton route``; a pull assigns the
member the highest-priority one they may take and prints it; an empty queue, or nothing they may take, is
``pulled: false`` with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.entrypoints.cli.test_commands import baton, pytestmark  # noqa: F401 (skipped without the script)

REP_1, REP_2 = "005000000000001AAA", "005000000000002AAA"
CONFIG = f"""teams:
  - name: Queue
    method: pull
    skills_from: [Language__c]
    order: {{by: field, field: Score__c, direction: descending}}
    members:
      - {{id: "{REP_1}", skills: [en, de]}}
      - {{id: "{REP_2}", skills: [en]}}
default_team: Queue
"""


def route(tmp_path: Path, *records: tuple[str, str, int]) -> None:
    config = tmp_path / "pull.yaml"
    config.write_text(CONFIG)
    lines = tmp_path / "leads.jsonl"
    lines.write_text("".join(
        json.dumps({"object": "Lead", "id": record_id, "fields": {"LastName": "L", "Language__c": language,
                                                                   "Score__c": score}}) + "\n"
        for record_id, language, score in records))
    routed = baton(tmp_path, "route", str(lines), "--config", str(config), "--json")
    assert routed.returncode == 0, routed.stderr[-2000:]
    assert {json.loads(line)["outcome"] for line in routed.stdout.splitlines()} == {"held"}


def pull(tmp_path: Path, member: str) -> dict[str, object]:
    result = baton(tmp_path, "pull", "--member", member)
    assert result.returncode == 0, result.stderr[-2000:]
    [line] = result.stdout.splitlines()
    return json.loads(line)  # type: ignore[no-any-return]


def test_pull_gets_the_highest_priority_record_the_member_may_take(tmp_path: Path) -> None:
    route(tmp_path, ("00Q000000000001AAA", "en", 10), ("00Q000000000002AAA", "de", 99),
          ("00Q000000000003AAA", "en", 50))
    listed = baton(tmp_path, "held", "--json")
    assert {(row["team"], row["status"]) for row in map(json.loads, listed.stdout.splitlines())} == {
        ("Queue", "queued")}

    first = pull(tmp_path, REP_2)
    second = pull(tmp_path, REP_2)
    third = pull(tmp_path, REP_2)

    assert (first["pulled"], first["record_id"], first["owner_id"]) == (True, "00Q000000000003AAA", REP_2)
    assert second["record_id"] == "00Q000000000001AAA"
    assert third["pulled"] is False and "no record there that" in str(third["reason"])  # German only is left
    assert pull(tmp_path, REP_1)["record_id"] == "00Q000000000002AAA"
    empty = pull(tmp_path, REP_1)
    assert empty["pulled"] is False and str(empty["reason"]).startswith("none: ")


def test_pull_refuses_a_member_of_no_pull_team(tmp_path: Path) -> None:
    route(tmp_path, ("00Q000000000001AAA", "en", 10))
    result = baton(tmp_path, "pull", "--member", "005000000000009AAA")
    assert result.returncode == 2
    assert "is a member of no team using the pull method" in result.stderr
