"""A Salesforce session shared by Baton's writers: opened lazily, reopened once on 401, errors typed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import requests
import structlog
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from kernel.errors import PermanentError, TransientError

log = structlog.get_logger(__name__)
BATON_HEADERS = {"Sforce-Auto-Assign": "FALSE", "Sforce-Call-Options": "client=baton"}
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "API_DISABLED_FOR_ORG"})
TRANSIENT_HTTP = frozenset({401, 408, 429, 500, 502, 503, 504})
UNREACHABLE = "Salesforce could not be reached"  # the request may or may not have been carried out
DEFAULT_TIMEOUT_S = 30.0
T = TypeVar("T")


class TimeoutAdapter(HTTPAdapter):
    """Sends every request with ``timeout_s`` (connect and read) unless the caller gives its own: requests
    waits forever by default, and simple-salesforce passes no timeout."""

    def __init__(self, timeout_s: float):
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        return super().send(request, *args, **kwargs)


def http_session(timeout_s: float = DEFAULT_TIMEOUT_S) -> requests.Session:
    """A ``requests`` session whose every call (simple-salesforce's REST and Composite calls, Bulk API 2.0,
    SOQL, logins) ends after ``timeout_s`` without an answer: the caller then sees a ``requests.Timeout``,
    an unknown outcome (``UNREACHABLE``) to be read back, rather than waiting for as long as Salesforce
    keeps the connection open."""
    if timeout_s <= 0:
        raise ValueError(f"a Salesforce timeout must be positive, not {timeout_s}")
    session = requests.Session()
    adapter = TimeoutAdapter(timeout_s)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class SalesforceSession:
    """With ``login``, the session is opened on the first call (a worker starts while Salesforce is away)
    and opened again when Salesforce answers 401 (an expired or revoked session), once per call."""

    def __init__(self, salesforce: Salesforce | None = None, login: Callable[[], Salesforce] | None = None):
        if salesforce is None and login is None:
            raise ValueError("a Salesforce session or a way to log in is needed")
        self._salesforce = salesforce
        self._login = login

    @property
    def current(self) -> Salesforce | None:
        return self._salesforce

    def _session(self, renew: bool = False) -> Salesforce:
        if self._login is not None and (renew or self._salesforce is None):
            self._salesforce = self._login()
            log.info("salesforce_session_opened", renewed=renew)
        assert self._salesforce is not None
        return self._salesforce

    def call(self, action: Callable[[Salesforce], T]) -> T:
        """Runs ``action`` on the session, logging in again once if Salesforce says it expired."""
        try:
            return action(self._session())
        except SalesforceExpiredSession:
            if self._login is None:
                raise
            return action(self._session(renew=True))


def error_codes(content: Any) -> list[str]:
    """The ``errorCode`` values of a Salesforce REST error body."""
    items = content if isinstance(content, list) else [content]
    return [str(item.get("errorCode")) for item in items if isinstance(item, dict) and item.get("errorCode")]


def is_transient(status: int, codes: Iterable[str] = ()) -> bool:
    """Whether Salesforce's answer says to try again later: any 5xx, 408, 429, 401 (the session is opened again),
    or an error code of a busy or limited org (UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, ...), whatever the
    status it came with."""
    return status >= 500 or status in TRANSIENT_HTTP or not TRANSIENT_CODES.isdisjoint(codes)


def typed_error(exc: SalesforceError | requests.RequestException, what: str) -> TransientError | PermanentError:
    """TransientError for network trouble (the request may have been carried out: ``UNREACHABLE``) and
    transient answers (``is_transient``); PermanentError otherwise."""
    if isinstance(exc, requests.RequestException):
        return TransientError(f"{UNREACHABLE} for {what}: {exc}")
    if is_transient(exc.status, error_codes(exc.content)):
        return TransientError(f"Salesforce answered {exc.status} to {what}: {exc.content}")
    return PermanentError(f"Salesforce refused {what} ({exc.status}): {exc.content}")
