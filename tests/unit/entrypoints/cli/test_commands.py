"""The `baton` command as users run it: results on stdout, logs on stderr, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
BATON = shutil.which("baton")

pytestmark = pytest.mark.skipif(BATON is None, reason="the baton console script is not installed")


def baton(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING"})
    env.update(extra_env)
    return subprocess.run([BATON, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # type: ignore[list-item]


def test_check_prints_every_error_with_its_path_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "teams:\n"
        "  - name: A\n    members: [{id: '005000000000001AAA'}]\n"
        "  - name: B\n    members: [{id: '005000000000002AAA'}]\n"
        "  - name: C\n    members: [{id: '005000000000003AAA', timezone: Europe/Londn, colour: red}]\n"
        "default_team: Z\n"
    )
    result = baton(tmp_path, "check", str(config))

    assert result.returncode == 2
    assert "teams[2].members[0].timezone: unknown time zone 'Europe/Londn'" in result.stderr
    assert "teams[2].members[0].colour: unknown key" in result.stderr
    assert result.stdout == ""


def test_check_names_the_line_of_broken_yaml(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("teams:\n  - name: [\n")
    result = baton(tmp_path, "check", str(config))
    assert result.returncode == 2
    assert f"{config}:3:" in result.stderr and "not valid YAML" in result.stderr


def test_check_accepts_the_example_config(tmp_path: Path) -> None:
    result = baton(tmp_path, "check", str(EXAMPLES / "org.yaml"))
    assert (result.returncode, result.stdout.strip()) == (0, f"{EXAMPLES / 'org.yaml'}: ok")


def test_route_json_prints_only_assignment_objects_and_rerun_does_not_reassign(tmp_path: Path) -> None:
    args = ("route", str(EXAMPLES / "leads.jsonl"), "--config", str(EXAMPLES / "org.yaml"), "--json")
    first = baton(tmp_path, *args, BATON_ACCOUNTS_FILE=str(EXAMPLES / "accounts.jsonl"))
    second = baton(tmp_path, *args, BATON_ACCOUNTS_FILE=str(EXAMPLES / "accounts.jsonl"))

    assert first.returncode == 0, first.stderr[-2000:]
    logs = [json.loads(line) for line in first.stdout.splitlines()]
    records = [json.loads(line)["id"] for line in (EXAMPLES / "leads.jsonl").read_text().splitlines()]
    assert [log["record_id"] for log in logs] == records
    assert all({"owner_id", "team", "method", "reasons"} <= log.keys() for log in logs)
    inbound = {m["id"] for t in yaml.safe_load((EXAMPLES / "org.yaml").read_text())["teams"]
               if t["name"] == "Inbound" for m in t["members"]}
    counts = Counter(log["owner_id"] for log in logs if log["team"] == "Inbound")
    assert set(counts) == inbound and max(counts.values()) - min(counts.values()) <= 1
    again = {json.loads(line)["record_id"]: json.loads(line)["owner_id"] for line in second.stdout.splitlines()}
    assert again == {log["record_id"]: log["owner_id"] for log in logs}


def test_route_reports_bad_lines_by_number_routes_the_rest_and_exits_1(tmp_path: Path) -> None:
    records = tmp_path / "mixed.jsonl"
    records.write_text(
        '{"object": "Lead", "id": "00Q000000000001AAA", "fields": {"LastName": "Good"}}\n'
        "this is not json\n"
        '{"object": "Lead", "id": "00Q000000000002AAA", "colour": "red"}\n'
        '{"object": "Lead", "id": "not-an-id"}\n'
    )
    result = baton(tmp_path, "route", str(records), "--config", str(EXAMPLES / "org.yaml"), "--json")

    assert result.returncode == 1
    assert f"{records}:2: rejected: not valid JSON" in result.stderr
    assert f"{records}:3: rejected: unknown key 'colour'" in result.stderr
    assert f"{records}:4: rejected: id:" in result.stderr
    assert [json.loads(line)["record_id"] for line in result.stdout.splitlines()] == ["00Q000000000001AAA"]


def test_route_csv_needs_object_and_routes_with_it(tmp_path: Path) -> None:
    records = tmp_path / "leads.csv"
    records.write_text("Id,LastName,Country\n00Q000000000001AAA,Smith,Germany\n00Q000000000002AAA,Jones,US\n")
    without = baton(tmp_path, "route", str(records), "--config", str(EXAMPLES / "org.yaml"))
    routed = baton(tmp_path, "route", str(records), "--config", str(EXAMPLES / "org.yaml"), "--object", "Lead",
                   "--json")

    assert without.returncode == 2 and "--object" in without.stderr
    assert routed.returncode == 0
    assert [json.loads(line)["team"] for line in routed.stdout.splitlines()] == ["EMEA", "Inbound"]


def test_config_apply_is_idempotent_and_refuses_invalid_configs(tmp_path: Path) -> None:
    good = baton(tmp_path, "config", "apply", str(EXAMPLES / "org.yaml"))
    same = baton(tmp_path, "config", "apply", str(EXAMPLES / "org.yaml"))
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("teams: []\n")
    bad = baton(tmp_path, "config", "apply", str(bad_file))
    shown = baton(tmp_path, "config", "show")

    assert good.stdout.strip() == "config version 1"
    assert same.stdout.strip() == "config version 1 (unchanged)"
    assert bad.returncode == 2 and "teams" in bad.stderr
    assert shown.stdout == (EXAMPLES / "org.yaml").read_text()


def test_dlq_and_held_lists_are_empty_on_a_fresh_store(tmp_path: Path) -> None:
    dlq = baton(tmp_path, "dlq", "list", "--json")
    held = baton(tmp_path, "held", "--json")
    assert (dlq.returncode, dlq.stdout) == (0, "")
    assert (held.returncode, held.stdout) == (0, "")
