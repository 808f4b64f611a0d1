"""Builds the booking adapters from settings (the composition root calls these)."""

from __future__ import annotations

from adapters.calendar.ports import Calendar
from adapters.salesforce.events import SalesforceEvents
from baton.settings import Settings


def build_calendar(settings: Settings) -> Calendar | None:
    """Google Calendar when a service account key is configured, else None (the embedded default:
    pair it with ``UnconfiguredCalendar``, whose every call raises a ConfigError naming the setting)."""
    if settings.google_service_account_file is None:
        return None
    from adapters.calendar.google import GoogleCalendar, load_service_account

    return GoogleCalendar(load_service_account(settings.google_service_account_file),
                          settings.google_freebusy_subject or "", settings.google_calendar_api_url,
                          settings.google_timeout_ms)


def build_salesforce_events(settings: Settings) -> SalesforceEvents | None:
    """Salesforce Event upserts through the connected app when one is configured, else None."""
    from baton.bootstrap import salesforce_login

    login = salesforce_login(settings)
    if login is None:
        return None
    from adapters.salesforce.events import SalesforceEventWriter

    return SalesforceEventWriter(login=login, external_id_field=settings.salesforce_event_external_id_field)
