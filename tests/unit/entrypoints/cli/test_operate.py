"""`baton scheduler --once` and notifications from the embedded default, as users run them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.fake_notifications import smtp_server

ROOT = Path(__file__).resolve().parents[4]
CONFIG = """
teams:
  - name: Inbound
    sla_minutes: 30
    members:
      - {id: "005000000000001AAA", name: "Ada Lovelace", email: ada@example.com}
default_team: Inbound
"""
LEAD = '{"object": "Lead", "id": "00Q000000000001AAA", "fields": {"LastName": "Turing", "Company": "Acme"}}\n'


def baton(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({"BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}", "BATON_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT)})
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "baton", *args], check=False, cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_embedded_default_emails_the_new_owner_and_opens_the_sla_timer(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(CONFIG)
    (tmp_path / "leads.jsonl").write_text(LEAD)
    with smtp_server() as (mailbox, port):
        routed = baton(tmp_path, "route", "leads.jsonl", "--config", "org.yaml", "--json",
                       BATON_NOTIFY_SMTP_HOST="127.0.0.1", BATON_NOTIFY_SMTP_PORT=str(port),
                       BATON_NOTIFY_SMTP_TLS="none")
    assert routed.returncode == 0, routed.stderr
    assert json.loads(routed.stdout.splitlines()[0])["owner_id"] == "005000000000001AAA"
    assert mailbox.recipients == [["ada@example.com"]]
    assert mailbox.messages[0]["Subject"] == "Lead 00Q000000000001AAA is yours"

    with sqlite3.connect(tmp_path / "baton.sqlite3") as database:
        assert database.execute("SELECT team, owner_id, state FROM sla_timers").fetchall() == [
            ("Inbound", "005000000000001AAA", "open")]

    round_report = baton(tmp_path, "scheduler", "--once")
    assert round_report.returncode == 0, round_report.stderr
    assert json.loads(round_report.stdout) == {"held_rechecked": 0, "sla_actioned": 0, "sla_breached": 0,
                                               "reassigned": 0, "escalated": 0, "member_changes": 0,
                                               "calendar_changes": 0, "bookings_resumed": 0, "dead_letters_moved": 0}
