"""Salesforce Events for booked meetings, upserted on an external id field so a retry never makes two."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceResourceNotFound

from adapters.salesforce.session import BATON_HEADERS, SalesforceSession, typed_error
from kernel.errors import InputError, TransientError

DEFAULT_EXTERNAL_ID_FIELD = "Baton_Booking_Id__c"


class SalesforceEvents(Protocol):
    def upsert_event(self, external_id: str, fields: Mapping[str, Any]) -> str:
        """Creates or updates the Event whose external id field holds ``external_id``; returns its Id."""
        ...

    def delete_event(self, external_id: str) -> None:
        """Deletes that Event; one already gone is fine."""
        ...


class SalesforceEventWriter:
    """``PATCH /sobjects/Event/{field}/{value}`` through simple-salesforce, with Baton's loop-guard headers."""

    def __init__(
        self,
        salesforce: Salesforce | None = None,
        login: Callable[[], Salesforce] | None = None,
        external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD,
    ):
        self._session = SalesforceSession(salesforce, login)
        self.external_id_field = external_id_field
        self.calls: Counter[str] = Counter()

    def _path(self, external_id: str) -> str:
        if not external_id:
            raise InputError("an Event external id is needed")
        return f"{self.external_id_field}/{quote(external_id, safe='')}"

    def upsert_event(self, external_id: str, fields: Mapping[str, Any]) -> str:
        path = self._path(external_id)
        if self.external_id_field in fields:
            raise InputError(f"Event fields must not hold the external id field {self.external_id_field}")
        what = f"the Event upsert {self.external_id_field}={external_id}"
        self.calls["upsert"] += 1
        try:
            response = self._session.call(
                lambda salesforce: salesforce.Event.upsert(path, dict(fields), raw_response=True,
                                                           headers=BATON_HEADERS))
            if response.status_code == 204:  # API versions before 46.0 answer an update without a body
                self.calls["get"] += 1
                return str(self._session.call(
                    lambda salesforce: salesforce.Event.get(path, headers=BATON_HEADERS))["Id"])
        except (SalesforceError, requests.RequestException) as exc:
            raise typed_error(exc, what) from exc
        body = response.json() if response.content else {}
        if not isinstance(body, dict) or not body.get("id"):
            raise TransientError(f"unexpected answer to {what}: {response.status_code} {body!r:.200}")
        return str(body["id"])

    def delete_event(self, external_id: str) -> None:
        path = self._path(external_id)
        self.calls["delete"] += 1
        try:
            self._session.call(lambda salesforce: salesforce.Event.delete(path, headers=BATON_HEADERS))
        except SalesforceResourceNotFound:
            return
        except (SalesforceError, requests.RequestException) as exc:
            raise typed_error(exc, f"the Event delete {self.external_id_field}={external_id}") from exc


@dataclass
class RecordingSalesforceEvents:
    """In-memory Events for unit tests: ``events`` by external id (with their ``Id``), ``upserts`` and
    ``deleted`` in call order; ``fail_next(exc, ...)`` raises those errors on the next calls."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    upserts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failures: deque[Exception] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def upsert_event(self, external_id: str, fields: Mapping[str, Any]) -> str:
        with self._lock:
            if self.failures:
                raise self.failures.popleft()
            self.upserts.append((external_id, dict(fields)))
            event_id = self.events.get(external_id, {}).get("Id") or f"00U{len(self.upserts):015d}"
            self.events[external_id] = {**self.events.get(external_id, {}), **fields, "Id": event_id}
            return event_id

    def delete_event(self, external_id: str) -> None:
        with self._lock:
            if self.failures:
                raise self.failures.popleft()
            if self.events.pop(external_id, None) is not None:
                self.deleted.append(external_id)
