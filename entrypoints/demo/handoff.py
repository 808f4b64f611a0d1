"""The demo's world, which the handoff page's tests share: an org with a three-time-zone pool, a Lead in the
fake Salesforce org, busy time in the fake Google Calendar, and Baton's web app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from simple_salesforce import Salesforce

from adapters.calendar.google import GoogleCalendar, load_service_account
from adapters.salesforce.events import SalesforceEventWriter
from entrypoints.demo.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce

CONSUMER_SECRET = "canvas-consumer-secret-for-the-demo"
LEAD_ID = "00Q000000000777AAA"
ANA, BEN, CHEN = "005000000000101AAA", "005000000000102AAA", "005000000000103AAA"
SCHEDULER, SECOND_SCHEDULER = "005000000000201AAA", "005000000000202AAA"
HOSTS = {ANA: ("Ana Alvarez", "Europe/London", "ana@example.com"),
         BEN: ("Ben Brooks", "America/New_York", "ben@example.com"),
         CHEN: ("Chen Cho", "Europe/Berlin", "chen@example.com")}


def handoff_config(mode: str = "manual", lead_suggestions: str = "") -> str:
    members = "\n".join(f'      - {{id: "{host_id}", name: "{name}", email: {email}, timezone: {zone}}}'
                        for host_id, (name, zone, email) in HOSTS.items())
    return f"""teams:
  - name: Handover
    members:
{members}
default_team: Handover
booking:
  types:
    - name: Intro
      duration_minutes: 30
      buffer_before_minutes: 10
      buffer_after_minutes: 10
      slot_step_minutes: 30
      horizon_days: 21
      working_hours: {{start: "09:00", end: "17:00"}}
      meeting_platform: google_meet
    - name: Demo
      duration_minutes: 60
      slot_step_minutes: 60
      working_hours: {{start: "09:00", end: "17:00"}}
  pools:
    - {{team: Handover, mode: {mode}}}
  objects:
    Lead:
      default_type: Intro
      host_options: [pool, user, record_owner]
      default_host: {{kind: pool, team: Handover}}
      page_fields: [LeadSource, Country]
      instant_handoff: true
{lead_suggestions}"""


def lead_record(record_id: str = LEAD_ID) -> dict[str, Any]:
    return {"Id": record_id, "Name": "Pat Prospect", "FirstName": "Pat", "LastName": "Prospect",
            "Company": "Prospect Ltd", "Email": "pat@prospect.example.org", "OwnerId": ANA,
            "Owner": {"Name": "Ana Alvarez"}, "LeadSource": "Web", "Country": "GB",
            "SystemModstamp": "2030-01-01T00:00:00.000+0000"}


def busy_week(monday: date) -> dict[str, list[tuple[datetime, datetime]]]:
    """Some meetings in each host's calendar that week (UTC), so every host's free times differ."""
    def at(day: int, hour: int, minutes: int = 60) -> tuple[datetime, datetime]:
        start = datetime.combine(monday + timedelta(days=day), clock_time(hour), UTC)
        return start, start + timedelta(minutes=minutes)

    return {"ana@example.com": [at(0, 11), at(1, 9, 120), at(3, 13)],
            "ben@example.com": [at(0, 15), at(2, 16, 90)],
            "chen@example.com": [at(0, 9, 90), at(4, 10)]}


@dataclass
class Fakes:
    calendar_fake: FakeGoogleCalendar
    org: FakeOrg
    salesforce: Salesforce
    calendar: GoogleCalendar
    events: SalesforceEventWriter


@contextmanager
def fake_services(tmp_dir: Path, monday: date) -> Iterator[Fakes]:
    """The fake Google Calendar (busy time that week) and fake Salesforce (the Lead), with Baton's clients."""
    with fake_google_calendar(tmp_dir) as calendar_fake, fake_salesforce() as (org, salesforce):
        assert calendar_fake.key_file is not None
        calendar_fake.busy.update(busy_week(monday))
        org.records["Lead"] = [lead_record()]
        calendar = GoogleCalendar(load_service_account(calendar_fake.key_file), "admin@example.com",
                                  calendar_fake.api_url)
        yield Fakes(calendar_fake, org, salesforce, calendar, SalesforceEventWriter(salesforce=salesforce))


@contextmanager
def serving(app: FastAPI, port: int = 0) -> Iterator[str]:
    """The app on uvicorn in a thread, on 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                            proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
