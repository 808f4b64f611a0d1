"""Owner write-back through simple-salesforce: sObject Collections, up to 200 records a call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from baton.errors import PermanentError, TransientError
from baton.ports import OwnerChange, WriteResult

log = structlog.get_logger(__name__)
COLLECTION_LIMIT = 200
BATON_HEADERS = {"Sforce-Auto-Assign": "FALSE", "Sforce-Call-Options": "client=baton"}
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "API_DISABLED_FOR_ORG"})
TRANSIENT_HTTP = frozenset({401, 408, 429, 500, 502, 503, 504})


class SalesforceOwnerWriter:
    """PATCHes OwnerId (idempotent), so a retried write never does harm."""

    def __init__(self, salesforce: Salesforce):
        self._salesforce = salesforce

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(changes), COLLECTION_LIMIT):
            results.extend(self._write_collection(changes[start : start + COLLECTION_LIMIT]))
        return results

    def api_usage(self) -> tuple[int, int] | None:
        usage = self._salesforce.api_usage.get("api-usage")
        return (int(usage.used), int(usage.total)) if usage is not None else None

    def _write_collection(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        payload = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": c.object_type}, "id": c.record_id, "OwnerId": c.owner_id} for c in changes
            ],
        }
        try:
            response = self._salesforce.restful("composite/sobjects", method="PATCH", json=payload,
                                                headers=BATON_HEADERS)
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
