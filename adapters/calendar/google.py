"""Google Calendar through google-api-python-client: a service account with domain-wide delegation.

Free/busy is read as a configured subject (an admin or a user who can see the hosts' calendars), in one
``freebusy.query`` per 50 calendars. An event is inserted into its organizer's calendar as the organizer
(the host), with ``sendUpdates=all`` and a deterministic id, so a retried insert finds the first one
(409) instead of inviting everybody twice. The client uses the discovery document bundled with the
library and never fetches one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import structlog
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from adapters.calendar.ports import (
    FREEBUSY_CALENDARS_PER_CALL,
    CalendarChanges,
    CalendarEvent,
    CalendarLookupError,
    CalendarSyncExpired,
    ChangedEvent,
    CreatedEvent,
    EventMoveRefused,
    invited,
)
from adapters.call_metrics import record_calendar_call
from kernel.errors import ConfigError, InputError, PermanentError, TransientError
from routing.booking.slots import Interval

log = structlog.get_logger(__name__)
DEFAULT_API_URL = "https://www.googleapis.com/calendar/v3/"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
DEFAULT_TIMEOUT_MS = 30_000
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "backendError",
                               "internalError"})
GONE_STATUSES = frozenset({404, 410})
MOVE_REFUSED_STATUSES = frozenset({400, 403})  # no write access to the destination; an event that cannot move
LIST_PAGE_SIZE = 250
KEY_SETTING = "BATON_GOOGLE_SERVICE_ACCOUNT_FILE"


def load_service_account(path: Path) -> dict[str, Any]:
    """The service account's JSON key; errors name the setting and what is wrong with the file."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([(KEY_SETTING, f"cannot read {path}: {exc.strerror}")]) from None
    except ValueError as exc:
        raise ConfigError([(KEY_SETTING, f"{path} is not JSON: {exc}")]) from None
    missing = [key for key in ("type", "client_email", "private_key", "token_uri") if not isinstance(info, dict)
               or not info.get(key)]
    if missing:
        raise ConfigError([(KEY_SETTING, f"{path} is not a service account key: missing {', '.join(missing)}")])
    if info["type"] != "service_account":
        raise ConfigError([(KEY_SETTING, f"{path} holds a {info['type']!r} key, not a service_account key")])
    return info


class GoogleApiError(PermanentError):
    """Google answered with an error that retrying cannot fix; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int):
        self.status = status
        super().__init__(message)


class GoogleApiTransientError(TransientError):
    """Google answered 5xx, 429 or a 403 rate limit; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int):
        self.status = status
        super().__init__(message)


class GoogleCalendar:
    """The Calendar port on Google Calendar API v3. ``calls`` counts API calls by kind
    (``freebusy``, ``insert``, ``get``, ``delete``, ``patch``, ``move``, ``list``); token exchanges are not counted."""

    def __init__(
        self,
        service_account_info: Mapping[str, Any],
        freebusy_subject: str,
        api_url: str = DEFAULT_API_URL,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ):
        if not freebusy_subject:
            raise ConfigError([("BATON_GOOGLE_FREEBUSY_SUBJECT", "a user to read free/busy as is needed")])
        try:
            self._base = service_account.Credentials.from_service_account_info(dict(service_account_info))
        except (ValueError, KeyError) as exc:
            raise ConfigError([(KEY_SETTING, f"unusable service account key: {exc}")]) from None
        self.freebusy_subject = freebusy_subject
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout_s = timeout_ms / 1000
        self.calls: Counter[str] = Counter()
        self._credentials: dict[tuple[str, str], service_account.Credentials] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def api_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def _delegated(self, subject: str, scope: str) -> service_account.Credentials:
        with self._lock:
            credentials = self._credentials.get((subject, scope))
            if credentials is None:
                credentials = self._base.with_scopes([scope]).with_subject(subject)
                self._credentials[(subject, scope)] = credentials
            return credentials

    def _client(self) -> tuple[Any, httplib2.Http]:
        """This thread's API client and connection (httplib2 is not thread-safe); one for all subjects."""
        local = self._local.__dict__
        if "service" not in local:
            local["http"] = httplib2.Http(timeout=self.timeout_s)
            local["service"] = build("calendar", "v3", http=local["http"], static_discovery=True,
                                     cache_discovery=False, client_options={"api_endpoint": self.api_url})
        return local["service"], local["http"]

    def _execute(self, kind: str, subject: str, scope: str, what: str, request: Callable[[Any], Any]) -> Any:
        """Runs one API request as ``subject`` (domain-wide delegation), errors typed."""
        with self._lock:
            self.calls[kind] += 1
        service, http = self._client()
        authorized = google_auth_httplib2.AuthorizedHttp(self._delegated(subject, scope), http=http)
        result = "ok"
        try:
            return request(service).execute(http=authorized, num_retries=0)
        except HttpError as exc:
            typed = _typed(exc, what)
            result = _result_label(typed)
            raise typed from exc
        except RefreshError as exc:
            result = "token_error"
            if getattr(exc, "retryable", False):
                raise TransientError(f"Google token exchange for {what} failed: {exc}") from exc
            raise PermanentError(f"Google refused the delegated token for {what} "
                                 f"(is domain-wide delegation granted for this scope?): {exc}") from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
            result = "unreachable"
            raise TransientError(f"Google Calendar could not be reached for {what}: {exc!r}") from exc
        finally:
            record_calendar_call(kind, result)

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        time_min, time_max = _rfc3339(start, "start"), _rfc3339(end, "end")
        if end <= start:
            raise InputError(f"free/busy range ends ({time_max}) before it starts ({time_min})")
        unique = list(dict.fromkeys(emails))
        answer: dict[str, list[Interval]] = {}
        errors: dict[str, str] = {}
        for first in range(0, len(unique), FREEBUSY_CALENDARS_PER_CALL):
            chunk = unique[first : first + FREEBUSY_CALENDARS_PER_CALL]
            body = {"timeMin": time_min, "timeMax": time_max, "timeZone": "UTC",
                    "items": [{"id": email} for email in chunk]}
            result = self._execute("freebusy", self.freebusy_subject, FREEBUSY_SCOPE,
                                   f"free/busy of {len(chunk)} calendars ({chunk[0]}, ...)",
                                   lambda service, body=body: service.freebusy().query(body=body))
            calendars = result.get("calendars") or {}
            for email in chunk:
                entry = calendars.get(email)
                if entry is None:
                    errors[email] = "missing from Google's answer"
                elif entry.get("errors"):
                    errors[email] = ", ".join(str(e.get("reason", "unknown")) for e in entry["errors"])
                else:
                    answer[email] = [_interval(item, email) for item in entry.get("busy") or []]
        if errors:
            failed = ", ".join(f"{email} ({reason})" for email, reason in errors.items()
                               if TRANSIENT_REASONS.intersection(reason.split(", ")))
            if failed:
                raise TransientError(f"free/busy failed for now for {failed}")
            raise CalendarLookupError(errors, answer)
        return answer

    def create_event(self, event: CalendarEvent) -> CreatedEvent:
        calendar = event.organizer_email
        what = f"event {event.event_id} in calendar {calendar}"
        body = _event_body(event)
        try:
            created = self._execute("insert", calendar, EVENTS_SCOPE, what, lambda service: service.events().insert(
                calendarId=calendar, body=body, sendUpdates="all", conferenceDataVersion=1 if event.with_meet else 0))
        except PermanentError as exc:
            if _status_of(exc) != 409:
                raise
            created = self._get(calendar, event.event_id, what)
            if created.get("status") == "cancelled":
                raise PermanentError(f"{what} exists but was cancelled; a cancelled booking is not booked again") from exc
            log.info("calendar_event_existed", event_id=event.event_id, calendar=calendar)
        if event.with_meet and _meet_pending(created):
            created = self._get(calendar, event.event_id, what)  # Meet usually has its link by now
        return _created(created)

    def _get(self, calendar: str, event_id: str, what: str) -> Any:
        return self._execute("get", calendar, EVENTS_SCOPE, what,
                             lambda service: service.events().get(calendarId=calendar, eventId=event_id))

    def cancel_event(self, organizer_email: str, event_id: str) -> None:
        what = f"event {event_id} in calendar {organizer_email}"
        try:
            self._execute("delete", organizer_email, EVENTS_SCOPE, what, lambda service: service.events().delete(
                calendarId=organizer_email, eventId=event_id, sendUpdates="all"))
        except PermanentError as exc:
            if _status_of(exc) not in GONE_STATUSES:
                raise


    def update_event(self, event: CalendarEvent, leaving: Sequence[str] = ()) -> bool:
        """Reads the event, then patches what differs from ``event`` (nothing patched when nothing does)."""
        calendar = event.organizer_email
        what = f"event {event.event_id} in calendar {calendar}"
        try:
            current = self._get(calendar, event.event_id, what)
            changes = _event_changes(current, event, leaving)
            if changes:
                self._execute("patch", calendar, EVENTS_SCOPE, what, lambda service: service.events().patch(
                    calendarId=calendar, eventId=event.event_id, body=changes, sendUpdates="all"))
        except PermanentError as exc:
            if _status_of(exc) in GONE_STATUSES:
                return False
            raise
        return True

    def transfer_event(self, organizer_email: str, event_id: str, new_organizer_email: str) -> bool:
        """``events.move`` as the current organizer, who needs write access to the new host's calendar."""
        what = f"event {event_id} from calendar {organizer_email} to {new_organizer_email}"
        try:
            self._execute("move", organizer_email, EVENTS_SCOPE, what, lambda service: service.events().move(
                calendarId=organizer_email, eventId=event_id, destination=new_organizer_email, sendUpdates="all"))
        except PermanentError as exc:
            status = _status_of(exc)
            if status in GONE_STATUSES:
                return False
            if status is not None and status in MOVE_REFUSED_STATUSES:
                raise EventMoveRefused(str(exc), status) from exc
            raise
        return True

    def changes(self, calendar_email: str, sync_token: str | None, since: datetime) -> CalendarChanges:
        what = f"changes of calendar {calendar_email}"
        query: dict[str, Any] = {"calendarId": calendar_email, "showDeleted": True, "singleEvents": True,
                                 "maxResults": LIST_PAGE_SIZE}
        if sync_token:
            query["syncToken"] = sync_token
        else:
            query["timeMin"] = _rfc3339(since, "since")
        found: list[ChangedEvent] = []
        page_token: str | None = None
        while True:
            page = {**query, **({"pageToken": page_token} if page_token else {})}
            try:
                answer = self._execute("list", calendar_email, EVENTS_SCOPE, what,
                                       lambda service, page=page: service.events().list(**page))
            except PermanentError as exc:
                if _status_of(exc) == 410:
                    raise CalendarSyncExpired(f"{what}: the sync token expired") from exc
                raise
            found += [_changed(item) for item in answer.get("items") or []]
            page_token = answer.get("nextPageToken")
            if not page_token:
                token = answer.get("nextSyncToken")
                if not token:
                    raise TransientError(f"{what}: the last page carried no nextSyncToken")
                return CalendarChanges(found, str(token))


def _moment(part: Any) -> datetime | None:
    value = (part or {}).get("dateTime")
    return datetime.fromisoformat(value) if value else None


def _changed(item: Mapping[str, Any]) -> ChangedEvent:
    responses = {str(a.get("email")): str(a.get("responseStatus", "needsAction"))
                 for a in item.get("attendees") or [] if a.get("email")}
    return ChangedEvent(str(item["id"]), str(item.get("status", "confirmed")), _moment(item.get("start")),
                        _moment(item.get("end")), responses)


def _status_of(exc: Exception) -> int | None:
    return getattr(exc, "status", None)


def _reasons(exc: HttpError) -> list[str]:
    try:
        errors = json.loads(exc.content.decode("utf-8"))["error"].get("errors") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    return [str(item.get("reason")) for item in errors if isinstance(item, dict) and item.get("reason")]


def _result_label(exc: Exception) -> str:
    """The ``result`` label of ``baton_calendar_calls_total`` for an API error."""
    status = _status_of(exc)
    if status == 409:
        return "conflict"
    if status in GONE_STATUSES:
        return "gone"
    return "transient_error" if isinstance(exc, TransientError) else "error"


def _typed(exc: HttpError, what: str) -> Exception:
    status = int(exc.resp.status)
    reasons = _reasons(exc)
    message = f"Google Calendar answered {status} to {what}: {exc.reason}"
    if reasons:
        message += f" ({', '.join(reasons)})"
    if status in TRANSIENT_STATUSES or (status == 403 and TRANSIENT_REASONS.intersection(reasons)):
        return GoogleApiTransientError(message, status)
    return GoogleApiError(message, status)


def _rfc3339(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} {value.isoformat()} has no time zone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _interval(item: Mapping[str, Any], email: str) -> Interval:
    try:
        return Interval(datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise TransientError(f"unreadable busy interval for {email}: {item!r:.200} ({exc})") from exc


def _event_body(event: CalendarEvent) -> dict[str, Any]:
    attendees = list(dict.fromkeys((event.organizer_email, *event.attendee_emails)))
    body: dict[str, Any] = {
        "id": event.event_id,
        "summary": event.summary,
        "description": event.description,
        "start": {"dateTime": _rfc3339(event.start, "event start"), "timeZone": "UTC"},
        "end": {"dateTime": _rfc3339(event.end, "event end"), "timeZone": "UTC"},
        "attendees": [{"email": email, **({"responseStatus": "accepted"} if email == event.organizer_email else {})}
                      for email in attendees],
    }
    if event.with_meet:
        body["conferenceData"] = {"createRequest": {"requestId": event.event_id,
                                                    "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    return body


def _event_changes(current: Mapping[str, Any], event: CalendarEvent, leaving: Sequence[str]) -> dict[str, Any]:
    """The patch that brings ``current`` (Google's event) in line with ``event``: time, subject, status, and
    the attendees (each one staying keeps their answer; the organizer has accepted)."""
    wanted = _event_body(event)
    changes: dict[str, Any] = {}
    for key in ("start", "end"):
        if _moment(current.get(key)) != _moment(wanted[key]):
            changes[key] = wanted[key]
    if current.get("summary") != event.summary:
        changes["summary"] = event.summary
    if current.get("status") != "confirmed":
        changes["status"] = "confirmed"
    answers = {str(a.get("email")): str(a.get("responseStatus", "needsAction")) for a in current.get("attendees") or []}
    answers[event.organizer_email] = "accepted"
    attendees = [{"email": email, "responseStatus": answers.get(email, "needsAction")}
                 for email in invited(list(answers), event, leaving)]
    if attendees != [{"email": a.get("email"), "responseStatus": a.get("responseStatus", "needsAction")}
                     for a in current.get("attendees") or []]:
        changes["attendees"] = attendees
    return changes


def _meet_pending(event: Mapping[str, Any]) -> bool:
    request = (event.get("conferenceData") or {}).get("createRequest") or {}
    return (request.get("status") or {}).get("statusCode") == "pending"


def _created(event: Mapping[str, Any]) -> CreatedEvent:
    meet = event.get("hangoutLink")
    if not meet:
        entry_points = (event.get("conferenceData") or {}).get("entryPoints") or []
        meet = next((point.get("uri") for point in entry_points if point.get("entryPointType") == "video"), None)
    return CreatedEvent(str(event["id"]), event.get("htmlLink"), meet)
