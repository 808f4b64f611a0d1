"""The real Google API client (bundled discovery document) against the fake Calendar server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.calendar import (
    CalendarEvent,
    CalendarLookupError,
    EventMoveRefused,
    RecordingCalendar,
    UnconfiguredCalendar,
    calendar_event_id,
)
from adapters.calendar.google import (
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    GoogleCalendar,
    load_service_account,
)
from baton.bootstrap import build_calendar
from baton.settings import Settings
from entrypoints.demo.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from kernel.errors import ConfigError, InputError, PermanentError, TransientError
from routing.booking.slots import Interval

ADMIN = "admin@example.com"
HOST = "grace@example.com"
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGoogleCalendar]:
    with fake_google_calendar(tmp_path) as server:
        yield server


@pytest.fixture
def calendar(fake: FakeGoogleCalendar) -> GoogleCalendar:
    assert fake.key_file is not None
    return GoogleCalendar(load_service_account(fake.key_file), ADMIN, fake.api_url)


def _event(booking_id: str = "booking-1", with_meet: bool = True, organizer: str = HOST) -> CalendarEvent:
    return CalendarEvent(calendar_event_id(booking_id), organizer, "Demo: Ada with Grace (booked by Linus)",
                         "Booked by Baton", START, START + timedelta(minutes=30),
                         ("ada@prospect.io", "alan@example.com"), with_meet)


def test_freebusy_is_read_with_a_token_delegated_to_the_configured_subject(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    calendar.busy([HOST], START, START + timedelta(days=1))
    calendar.busy([HOST], START, START + timedelta(days=2))

    assert len(fake.token_grants) == 1
    grant = fake.token_grants[0]
    assert (grant["sub"], grant["scope"], grant["iss"]) == (ADMIN, FREEBUSY_SCOPE, fake.client_email)


def test_events_are_written_as_their_organizer_with_a_token_per_host(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    calendar.create_event(_event("b1", organizer=HOST))
    calendar.create_event(_event("b2", organizer="alan@example.com"))
    calendar.create_event(_event("b3", organizer=HOST))

    assert [(g["sub"], g["scope"]) for g in fake.token_grants] == [(HOST, EVENTS_SCOPE),
                                                                  ("alan@example.com", EVENTS_SCOPE)]
    assert len(fake.live_events(HOST)) == 2 and len(fake.live_events("alan@example.com")) == 1


def test_120_calendars_take_three_freebusy_calls_and_every_busy_block_comes_back(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    emails = [f"host{n}@example.com" for n in range(120)]
    for n, email in enumerate(emails):
        fake.busy[email] = [(START + timedelta(hours=n % 24), START + timedelta(hours=n % 24, minutes=30))]
    fake.busy[emails[0]].append((START - timedelta(days=5), START - timedelta(days=4)))  # outside the range

    busy = calendar.busy([*emails, emails[3]], START, START + timedelta(days=1))

    assert [len(request["items"]) for request in fake.freebusy_requests] == [50, 50, 20]
    assert calendar.calls["freebusy"] == 3
    assert fake.freebusy_requests[0]["timeMin"] == "2026-11-24T15:00:00Z"
    assert set(busy) == set(emails)
    assert busy[emails[5]] == [Interval(START + timedelta(hours=5), START + timedelta(hours=5, minutes=30))]


def test_unreadable_calendars_are_named_and_the_others_still_answered(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    fake.unknown.add("gone@example.com")
    fake.busy[HOST] = [(START, START + timedelta(hours=1))]

    with pytest.raises(CalendarLookupError, match=r"gone@example.com \(notFound\)") as caught:
        calendar.busy([HOST, "gone@example.com"], START, START + timedelta(days=1))

    assert caught.value.errors == {"gone@example.com": "notFound"}
    assert caught.value.busy == {HOST: [Interval(START, START + timedelta(hours=1))]}


def test_an_event_with_meet_invites_everybody_and_returns_the_meet_link(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    created = calendar.create_event(_event())

    [stored] = fake.live_events(HOST)
    assert stored["id"] == created.event_id == calendar_event_id("booking-1")
    assert [a["email"] for a in stored["attendees"]] == [HOST, "ada@prospect.io", "alan@example.com"]
    assert stored["sendUpdates"] == "all"
    assert stored["start"]["dateTime"] == "2026-11-24T15:00:00Z"
    assert stored["conferenceData"]["createRequest"]["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert stored["conferenceData"]["createRequest"]["requestId"] == created.event_id
    assert created.meet_link == stored["hangoutLink"] and created.meet_link.startswith("https://meet.google.com/")
    assert created.html_link == stored["htmlLink"]


def test_a_meet_link_still_pending_at_insert_is_read_back(fake: FakeGoogleCalendar, calendar: GoogleCalendar) -> None:
    fake.meet_pending = True

    created = calendar.create_event(_event())

    assert created.meet_link == fake.live_events(HOST)[0]["hangoutLink"]
    assert calendar.calls == {"insert": 1, "get": 1}


def test_a_freebusy_range_that_ends_before_it_starts_is_refused(calendar: GoogleCalendar) -> None:
    with pytest.raises(InputError, match="ends .* before it starts"):
        calendar.busy([HOST], START, START - timedelta(hours=1))


def test_an_event_without_meet_has_no_conference(fake: FakeGoogleCalendar, calendar: GoogleCalendar) -> None:
    created = calendar.create_event(_event(with_meet=False))

    assert created.meet_link is None
    assert "conferenceData" not in fake.live_events(HOST)[0]


def test_retrying_the_same_booking_returns_the_first_event_and_invites_once(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    first = calendar.create_event(_event())
    again = calendar.create_event(_event())

    assert again == first
    assert len(fake.live_events(HOST)) == 1
    assert calendar.calls == {"insert": 2, "get": 1}


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient_and_name_the_calendar(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar, status: int,
) -> None:
    fake.fail_next(status)

    with pytest.raises(TransientError, match=rf"answered {status} to event \w+ in calendar {HOST}"):
        calendar.create_event(_event())
    calendar.create_event(_event())

    assert len(fake.live_events(HOST)) == 1


def test_a_403_rate_limit_is_transient_but_a_bad_request_is_permanent(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    fake.fail_next(403)
    with pytest.raises(TransientError, match="rateLimitExceeded"):
        calendar.busy([HOST], START, START + timedelta(hours=1))

    bad = CalendarEvent("NOT-base32hex", HOST, "s", "", START, START + timedelta(minutes=30), (), False)
    with pytest.raises(PermanentError, match=f"answered 400 to event NOT-base32hex in calendar {HOST}"):
        calendar.create_event(bad)


def test_with_a_share_of_5xx_retried_bookings_end_with_one_event_each(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    fake.error_share, fake.slow_answer_s = 0.4, (0.0, 0.05)
    failures = 0
    for n in range(12):
        for _attempt in range(20):
            try:
                calendar.create_event(_event(f"booking-{n}"))
                break
            except TransientError:
                failures += 1

    assert failures > 0
    assert sorted(e["id"] for e in fake.live_events(HOST)) == sorted(calendar_event_id(f"booking-{n}")
                                                                      for n in range(12))


def test_cancel_tells_attendees_and_cancelling_again_or_an_unknown_event_is_fine(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    created = calendar.create_event(_event())

    calendar.cancel_event(HOST, created.event_id)
    calendar.cancel_event(HOST, created.event_id)  # Google answers 410
    calendar.cancel_event(HOST, calendar_event_id("never-booked"))  # 404

    stored = fake.events[HOST][created.event_id]
    assert (stored["status"], stored["cancelUpdates"]) == ("cancelled", "all")
    assert fake.live_events(HOST) == []


def test_a_cancelled_booking_is_not_created_again(fake: FakeGoogleCalendar, calendar: GoogleCalendar) -> None:
    created = calendar.create_event(_event())
    calendar.cancel_event(HOST, created.event_id)

    with pytest.raises(PermanentError, match="was cancelled"):
        calendar.create_event(_event())


def test_a_subject_without_delegation_is_a_permanent_error_that_says_so(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    with pytest.raises(PermanentError, match="domain-wide delegation"):
        calendar.create_event(_event(organizer="someone@other-domain.com"))


def test_a_key_the_service_account_does_not_hold_is_refused_at_the_token_exchange(
    fake: FakeGoogleCalendar,
) -> None:
    assert fake.key_file is not None
    info = load_service_account(fake.key_file)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()

    with pytest.raises(PermanentError, match="Invalid JWT Signature"):
        GoogleCalendar(info, ADMIN, fake.api_url).busy([HOST], START, START + timedelta(hours=1))
    assert fake.token_grants == [] and fake.freebusy_requests == []


def test_an_unreachable_calendar_api_is_transient(fake: FakeGoogleCalendar) -> None:
    assert fake.key_file is not None
    calendar = GoogleCalendar(load_service_account(fake.key_file), ADMIN, "http://127.0.0.1:9/calendar/v3/",
                              timeout_ms=2_000)  # tokens still come from the fake; the API is not there

    with pytest.raises(TransientError, match="could not be reached for free/busy"):
        calendar.busy([HOST], START, START + timedelta(hours=1))


def test_concurrent_threads_share_one_calendar(fake: FakeGoogleCalendar, calendar: GoogleCalendar) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda n: calendar.create_event(_event(f"parallel-{n}")), range(18)))

    assert len(fake.live_events(HOST)) == 18


def test_settings_build_the_google_calendar_and_name_what_is_missing(fake: FakeGoogleCalendar, tmp_path: Path) -> None:
    assert build_calendar(Settings()) is None
    built = build_calendar(Settings(google_service_account_file=fake.key_file, google_freebusy_subject=ADMIN,
                                    google_calendar_api_url=fake.api_url))
    assert built is not None and built.busy([HOST], START, START + timedelta(hours=1)) == {HOST: []}

    with pytest.raises(ConfigError, match="BATON_GOOGLE_FREEBUSY_SUBJECT"):
        build_calendar(Settings(google_service_account_file=fake.key_file))
    with pytest.raises(ConfigError, match="BATON_GOOGLE_SERVICE_ACCOUNT_FILE: cannot read"):
        build_calendar(Settings(google_service_account_file=tmp_path / "missing.json", google_freebusy_subject=ADMIN))
    not_a_key = tmp_path / "user.json"
    not_a_key.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    with pytest.raises(ConfigError, match="not a service account key: missing client_email, private_key, token_uri"):
        build_calendar(Settings(google_service_account_file=not_a_key, google_freebusy_subject=ADMIN))
    with pytest.raises(ConfigError, match="BATON_GOOGLE_SERVICE_ACCOUNT_FILE"):
        UnconfiguredCalendar().busy([HOST], START, START + timedelta(hours=1))


def test_event_ids_are_valid_google_ids_stable_per_booking_and_distinct() -> None:
    ids = {calendar_event_id(f"booking-{n}") for n in range(1000)}

    assert len(ids) == 1000
    assert calendar_event_id("booking-1") == calendar_event_id("booking-1")
    assert all(5 <= len(i) <= 1024 and set(i) <= set("abcdefghijklmnopqrstuv0123456789") for i in ids)
    with pytest.raises(ValueError, match="booking id"):
        calendar_event_id("")


def test_the_recording_calendar_behaves_like_the_port() -> None:
    recording = RecordingCalendar(busy_by_email={HOST: [Interval(START, START + timedelta(hours=1))]},
                                  unreadable={"gone@example.com": "notFound"})
    emails = [HOST] + [f"h{n}@example.com" for n in range(60)]
    assert recording.busy(emails, START, START + timedelta(days=1))[HOST] == [Interval(START, START + timedelta(hours=1))]
    assert recording.calls["freebusy"] == 2
    with pytest.raises(CalendarLookupError):
        recording.busy([HOST, "gone@example.com"], START, START + timedelta(days=1))

    first = recording.create_event(_event())
    assert recording.create_event(_event()) == first and len(recording.created) == 1
    recording.fail_next(TransientError("down"))
    with pytest.raises(TransientError):
        recording.cancel_event(HOST, first.event_id)
    recording.cancel_event(HOST, first.event_id)
    recording.cancel_event(HOST, first.event_id)
    assert recording.cancelled == [(HOST, first.event_id)] and recording.events == {}


def test_updating_an_event_patches_only_what_changed_keeps_answers_and_restores_a_cancelled_one(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    created = calendar.create_event(_event())
    fake.host_edit(HOST, created.event_id, response=("ada@prospect.io", "accepted"))
    fake.events[HOST][created.event_id]["attendees"].append({"email": "added@by-hand.io", "responseStatus": "needsAction"})
    later = START + timedelta(days=1)

    moved = replace(_event(), start=later, end=later + timedelta(minutes=30),
                    attendee_emails=("ada@prospect.io", "bob@example.com"))
    assert calendar.update_event(moved, leaving=("alan@example.com",)) is True

    stored = fake.events[HOST][created.event_id]
    assert stored["start"]["dateTime"] == "2026-11-25T15:00:00Z" and stored["sendUpdates"] == "all"
    answers = {attendee["email"]: attendee["responseStatus"] for attendee in stored["attendees"]}
    assert answers == {HOST: "accepted", "ada@prospect.io": "accepted", "added@by-hand.io": "needsAction",
                       "bob@example.com": "needsAction"}  # alan left; the guest's answer and a hand-added guest kept
    assert calendar.update_event(moved) is True  # nothing differs: read, not patched
    assert [r["method"] for r in fake.requests if r["method"] in ("GET", "PATCH")] == ["GET", "PATCH", "GET"]
    calendar.cancel_event(HOST, created.event_id)
    assert calendar.update_event(moved) is True
    assert [e["id"] for e in fake.live_events(HOST)] == [created.event_id]  # one event, back again
    assert calendar.update_event(_event("never-booked")) is False
    assert (calendar.calls["get"], calendar.calls["patch"]) == (4, 2)


def test_an_event_moved_to_another_calendar_keeps_its_id_guests_and_meet_link_and_leaves_the_first(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    created = calendar.create_event(_event())
    fake.host_edit(HOST, created.event_id, response=("ada@prospect.io", "accepted"))

    assert calendar.transfer_event(HOST, created.event_id, "alan@example.com") is True

    assert fake.live_events(HOST) == [] and created.event_id not in fake.events[HOST]
    [moved] = fake.live_events("alan@example.com")
    assert (moved["id"], moved["organizer"]["email"], moved["hangoutLink"]) == (
        created.event_id, "alan@example.com", created.meet_link)
    assert {"email": "ada@prospect.io", "responseStatus": "accepted"} in moved["attendees"]
    [request] = [r for r in fake.requests if r["path"].endswith("/move")]
    assert request["method"] == "POST"
    assert (request["query"]["destination"], request["query"]["sendUpdates"]) == ("alan@example.com", "all")
    assert calendar.transfer_event(HOST, created.event_id, "alan@example.com") is False  # no longer there: 404
    assert calendar.transfer_event(HOST, calendar_event_id("never-booked"), "alan@example.com") is False
    assert calendar.calls["move"] == 3


def test_a_move_google_refuses_is_said_so_and_leaves_the_event_where_it_was(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    created = calendar.create_event(_event())
    fake.domain_manages_calendars = False

    with pytest.raises(EventMoveRefused) as refused:
        calendar.transfer_event(HOST, created.event_id, "alan@example.com")
    assert refused.value.status == 403 and "requiredAccessLevel" in str(refused.value)
    assert [e["id"] for e in fake.live_events(HOST)] == [created.event_id]

    fake.writers["alan@example.com"] = {HOST}  # alan lets grace make changes to his calendar
    assert calendar.transfer_event(HOST, created.event_id, "alan@example.com") is True


def test_changes_are_read_page_by_page_with_sync_tokens_and_an_expired_token_is_said_so(
    fake: FakeGoogleCalendar, calendar: GoogleCalendar,
) -> None:
    from adapters.calendar import CalendarSyncExpired

    fake.list_page_size = 2
    created = [calendar.create_event(_event(f"booking-{n}", with_meet=False)) for n in range(3)]
    first = calendar.changes(HOST, None, START - timedelta(days=1))
    assert sorted(e.event_id for e in first.events) == sorted(c.event_id for c in created)
    assert calendar.calls["list"] == 2  # two pages
    assert calendar.changes(HOST, first.sync_token, START).events == []

    later = START + timedelta(hours=3)
    fake.host_edit(HOST, created[0].event_id, start=later, end=later + timedelta(minutes=30))
    fake.host_edit(HOST, created[1].event_id, response=("alan@example.com", "declined"))
    fake.host_edit(HOST, created[2].event_id, delete=True)
    changed = {e.event_id: e for e in calendar.changes(HOST, first.sync_token, START).events}

    assert changed[created[0].event_id].start == later
    assert changed[created[1].event_id].responses["alan@example.com"] == "declined"
    assert changed[created[2].event_id].status == "cancelled"
    assert [r["query"]["syncToken"] for r in fake.requests if "syncToken" in r["query"]][-1] == first.sync_token
    fake.expire_sync_tokens = True
    with pytest.raises(CalendarSyncExpired):
        calendar.changes(HOST, first.sync_token, START)
