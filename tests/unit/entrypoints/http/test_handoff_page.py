"""The handoff page's views: the week on the scheduler's clock, the host panel, show-all availability, co-hosts
narrowing the free times, and bad input named back to the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from baton.booking.handoff.hosts import BadHostChoice, encode, host_choices, parse_host
from baton.booking.handoff.week import first_week, week_view
from entrypoints.demo.handoff import ANA, BEN, CHEN, HOSTS, LEAD_ID, handoff_config
from entrypoints.http.app import create_app
from entrypoints.http.page_tokens import HEADER, PageClaims, issue
from kernel.ports.reference_sync import SyncedWrite
from routing.booking.config import BookingType, HostOption
from routing.booking.slots import Interval, Slot
from routing.booking.suggest import Suggestion
from routing.config import load_config_text
from tests.support.handoff import NOW, install_handoff, link_url, page_token
from tests.support.pipeline import Pipeline

INTRO = BookingType(name="Intro", duration_minutes=30)
MONDAY = date(2030, 1, 7)


def slot(at: datetime, *hosts: str) -> Slot:
    return Slot(at, at + timedelta(minutes=30), hosts)


def test_the_week_is_drawn_on_the_scheduler_s_clock_with_past_and_non_working_days_greyed() -> None:
    wednesday_noon = datetime(2030, 1, 9, 12, 0, tzinfo=UTC)
    late_thursday_utc = datetime(2030, 1, 10, 23, 30, tzinfo=UTC)  # Friday 08:30 in Tokyo
    week = week_view(MONDAY, "Asia/Tokyo", wednesday_noon, INTRO, [slot(late_thursday_utc, ANA)])

    assert [(day.day.isoformat(), day.greyed, day.why) for day in week.days] == [
        ("2030-01-07", True, "past"), ("2030-01-08", True, "past"), ("2030-01-09", False, ""),
        ("2030-01-10", False, ""), ("2030-01-11", False, ""), ("2030-01-12", True, "not a working day"),
        ("2030-01-13", True, "not a working day")]
    assert [(s.label, s.host_ids) for s in week.days[4].slots] == [("08:30", (ANA,))]
    assert week.previous is None and week.next == date(2030, 1, 14)


def test_at_the_weekend_the_page_opens_on_the_next_working_week() -> None:
    assert first_week(datetime(2030, 1, 12, 10, tzinfo=UTC), "Europe/London") == date(2030, 1, 14)
    assert first_week(datetime(2030, 1, 11, 23, 30, tzinfo=UTC), "Asia/Tokyo") == date(2030, 1, 14)
    assert first_week(datetime(2030, 1, 8, 10, tzinfo=UTC), "Europe/London") == MONDAY


def test_the_host_panel_lists_the_suggestion_first_then_the_pool_members_and_only_it_when_locked() -> None:
    config = load_config_text(handoff_config())
    pool = HostOption(kind="pool", team="Handover")
    suggestion = Suggestion(host=pool, host_locked=False, meeting_type="Intro", meeting_type_locked=False)

    choices = host_choices(config, "Lead", suggestion, {"record_owner": "Ana Alvarez"})

    assert [choice.value for choice in choices] == [
        "pool:Handover", *(f"member:Handover:{host}" for host in HOSTS), "record_owner"]
    assert choices[0].suggested and choices[-1].detail == "Ana Alvarez"
    locked = host_choices(config, "Lead", Suggestion(pool, True, "Intro", False))
    assert [choice.value for choice in locked] == ["pool:Handover"]


def test_host_values_round_trip_and_a_made_up_one_is_refused() -> None:
    for option, member in ((HostOption(kind="pool", team="Handover"), BEN), (HostOption(kind="user", user_id=ANA), None),
                           (HostOption(kind="record_owner"), None)):
        assert parse_host(encode(option, member)) == (option, member)
    for bad in ("team:Handover", "user:", "record_owner:x", ""):
        with pytest.raises(BadHostChoice):
            parse_host(bad)


@pytest.fixture
def calendar() -> RecordingCalendar:
    nine = datetime(2030, 1, 7, 9, tzinfo=UTC)
    return RecordingCalendar(busy_by_email={"ana@example.com": [Interval(nine, nine + timedelta(hours=2))],
                                            "chen@example.com": [Interval(nine + timedelta(hours=3),
                                                                          nine + timedelta(hours=4))]})


@pytest.fixture
def client(pipeline: Pipeline, calendar: RecordingCalendar) -> Iterator[TestClient]:
    install_handoff(pipeline.app, pipeline.store, calendar)
    client = TestClient(create_app(pipeline.app))
    client.headers[HEADER] = page_token(client.get(link_url(pipeline.app, "")).text)
    yield client


def starts(html: str) -> set[str]:
    return {part.split('"')[0] for part in html.split('data-start="')[1:]}


def test_show_all_availability_names_every_free_host_on_each_time_and_the_pick_lists_them(client: TestClient) -> None:
    answer = client.get("/handoff/availability", params={"host": f"member:Handover:{ANA}", "show_all": "1"})

    assert answer.status_code == 200
    assert "Monday 07 January 10:00, free: Chen Cho" in answer.text  # Ana is busy, Ben's day has not begun
    assert "Monday 07 January 14:00, free: Ana Alvarez, Ben Brooks, Chen Cho" in answer.text
    picked = client.get("/handoff/slot", params={"host": f"member:Handover:{ANA}", "show_all": "1",
                                                 "start": "2030-01-07T10:00:00+00:00"})
    assert f'value="member:Handover:{CHEN}"' in picked.text
    assert f'value="member:Handover:{ANA}"' not in picked.text and f'value="member:Handover:{BEN}"' not in picked.text


def test_co_hosts_leave_only_the_times_when_everyone_is_free(client: TestClient) -> None:
    alone = starts(client.get("/handoff/availability", params={"host": f"member:Handover:{CHEN}"}).text)
    with_ana = starts(client.get("/handoff/availability", params={"host": f"member:Handover:{CHEN}",
                                                                  "co_hosts": ANA}).text)

    assert with_ana < alone
    assert "2030-01-07T10:00:00+00:00" in alone and "2030-01-07T10:00:00+00:00" not in with_ana


def test_a_booking_with_a_bad_guest_email_or_no_time_names_the_field(client: TestClient) -> None:
    answer = client.post("/handoff/book", data={"host": f"member:Handover:{BEN}", "guest_email": "pat@",
                                                "start": "2030-01-07T15:00:00+00:00"})
    assert answer.status_code == 200 and "<strong>guest_email</strong>" in answer.text
    untimed = client.post("/handoff/book", data={"host": f"member:Handover:{BEN}", "guest_email": "pat@example.org"})
    assert "give either start or meet_now" in untimed.text


PARTNER_RULE = f"""      suggestions:
        - name: partner leads
          when: {{field: LeadSource, op: equals, value: Partner}}
          host: {{kind: user, user_id: "{ANA}"}}
          lock_host: true
          meeting_type: Demo
          lock_meeting_type: true
"""


PARTNER_GRAPH = f"""graphs:
  Lead:
    nodes:
      start: {{kind: trigger, next: source}}
      source:
        kind: decision
        condition: {{field: LeadSource, op: equals, value: Partner}}
        then: partners
        else: others
      partners:
        kind: assign_team
        team: Handover
        suggest_booking: {{host: {{kind: user, user_id: "{ANA}"}}, lock_host: true, meeting_type: Demo,
                          lock_meeting_type: true}}
      others: {{kind: assign_team, team: Handover}}
"""


@pytest.mark.parametrize("suggestions", [PARTNER_RULE, PARTNER_GRAPH], ids=["suggestion rule", "router graph"])
def test_a_locked_suggestion_fixes_the_booking_type_and_the_host(pipeline: Pipeline, calendar: RecordingCalendar,
                                                                  suggestions: str) -> None:
    """The record was never routed: the graph is walked over the page's record fields."""
    install_handoff(pipeline.app, pipeline.store, calendar, lead_suggestions=suggestions)
    current = pipeline.app
    claims = PageClaims("005000000000201AAA", "Sam", "Lead", LEAD_ID, "Europe/London",
                        record_fields={"LeadSource": "Partner"})
    link = issue(claims, current.settings.page_token_secret or "", "link", NOW + timedelta(hours=1))
    page = TestClient(create_app(pipeline.app)).get("/handoff", params={"link": link}).text

    assert 'id="meeting_type" name="meeting_type" class="refresh" disabled' in page
    assert '<option value="Demo" selected>Demo</option>' in page and "Intro</option>" not in page
    assert page.count('name="host"') == 1 and f'value="user:{ANA}"' in page and "The host is fixed" in page
    assert "Ana Alvarez <span" in page


def test_without_a_connected_app_the_record_comes_from_the_synced_copy(pipeline: Pipeline,
                                                                        calendar: RecordingCalendar) -> None:
    install_handoff(pipeline.app, pipeline.store, calendar)
    with pipeline.store.reference_sync.writes() as transaction:
        transaction.upsert_synced("Lead", [SyncedWrite(LEAD_ID, NOW, NOW, {
            "first_name": "Pat", "last_name": "Prospect", "email": "pat@prospect.example.org",
            "owner_id": ANA, "company": "Prospect Ltd", "status": "Open"})], newer_only=False)

    page = TestClient(create_app(pipeline.app)).get(link_url(pipeline.app, "")).text

    assert "Book a handover for Pat Prospect" in page
    assert 'data-testid="company">Prospect Ltd<' in page and 'data-testid="owner">Ana Alvarez<' in page
    assert 'id="guest_email" name="guest_email" value="pat@prospect.example.org"' in page
