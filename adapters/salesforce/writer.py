"""Owner write-back through simple-salesforce: sObject Collections, up to 200 records a call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from baton.errors import PermanentError, TransientError
from baton.ports import OwnerChange, WriteResult

log = structlog.get_logger(__name__)
COLLECTION_LIMIT = 200
BATON_HEADERS = {"Sforce-Auto-Assign": "FALSE", "Sforce-Call-Options": "client=baton"}
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "API_DISABLED_FOR_ORG"})
TRANSIENT_HTTP = frozenset({401, 408, 429, 500, 502, 503, 504})


class SalesforceOwnerWriter:
    """PATCHes OwnerId (idempotent), so a retried write never does harm.

    With ``login``, the session is opened on the first write (a worker starts while Salesforce is away)
    and opened again when Salesforce answers 401 (an expired or revoked session), once per call.
    """

    def __init__(self, salesforce: Salesforce | None = None, login: Callable[[], Salesforce] | None = None):
        if salesforce is None and login is None:
            raise ValueError("a Salesforce session or a way to log in is needed")
        self._salesforce = salesforce
        self._login = login

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(changes), COLLECTION_LIMIT):
            results.extend(self._write_collection(changes[start : start + COLLECTION_LIMIT]))
        return results

    def api_usage(self) -> tuple[int, int] | None:
        usage = self._salesforce.api_usage.get("api-usage") if self._salesforce is not None else None
        return (int(usage.used), int(usage.total)) if usage is not None else None

    def _session(self, renew: bool = False) -> Salesforce:
        if self._login is not None and (renew or self._salesforce is None):
            self._salesforce = self._login()
            log.info("salesforce_session_opened", renewed=renew)
        assert self._salesforce is not None
        return self._salesforce

    def _patch(self, payload: dict[str, Any]) -> Any:
        try:
            return self._session().restful("composite/sobjects", method="PATCH", json=payload, headers=BATON_HEADERS)
        except SalesforceExpiredSession:
            if self._login is None:
                raise
            return self._session(renew=True).restful("composite/sobjects", method="PATCH", json=payload,
                                                     headers=BATON_HEADERS)

    def _write_collection(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        payload = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": c.object_type}, "id": c.record_id, "OwnerId": c.owner_id} for c in changes
            ],
        }
        try:
            response = self._patch(payload)
        except SalesforceError as exc:
            if exc.status in TRANSIENT_HTTP:
                raise TransientError(f"Salesforce answered {exc.status} to sObject Collections: {exc.content}") from exc
            raise PermanentError(f"Salesforce refused the sObject Collections call ({exc.status}): {exc.content}") from exc
        if not isinstance(response, list) or len(response) != len(changes):
            raise TransientError(f"unexpected sObject Collections answer: {response!r:.200}")
        return [_result(change, item) for change, item in zip(changes, response, strict=True)]


def _result(change: OwnerChange, item: dict[str, Any]) -> WriteResult:
    if item.get("success"):
        return WriteResult(change.routing_id, True, "sent")
    errors = item.get("errors") or [{}]
    code = str(errors[0].get("statusCode", "UNKNOWN"))
    detail = f"{code}: {errors[0].get('message', '')}"
    if code in TRANSIENT_CODES:
        return WriteResult(change.routing_id, False, "retry", detail)
    log.warning("owner_write_rejected", record_id=change.record_id, error=detail)
    return WriteResult(change.routing_id, True, "rejected", detail)
