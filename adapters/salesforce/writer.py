"""Owner write-back through simple-salesforce: sObject Collections, up to 200 records a call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from adapters.salesforce.session import (  # noqa: F401 - TRANSIENT_HTTP re-exported for bulk and sync
    BATON_HEADERS,
    TRANSIENT_CODES,
    TRANSIENT_HTTP,
    SalesforceSession,
    typed_error,
)
from kernel.errors import PermanentError, TransientError
from kernel.ports import OwnerChange, WriteResult

log = structlog.get_logger(__name__)
COLLECTION_LIMIT = 200
IDS_PER_QUERY = 200  # keeps a SOQL statement far below its 100,000-character limit


class SalesforceOwnerWriter:
    """PATCHes OwnerId and the routing facts beside it (idempotent), so a retried write never does harm.

    With ``login``, the session is opened on the first write (a worker starts while Salesforce is away)
    and opened again when Salesforce answers 401 (an expired or revoked session), once per call.
    """

    def __init__(self, salesforce: Salesforce | None = None, login: Callable[[], Salesforce] | None = None):
        self._session = SalesforceSession(salesforce, login)

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        """One result per change, in calls of up to 200. A failed call fails only its own rows: the rows
        of earlier calls were written and must not be sent again; after a transient failure the rest
        are not sent this round."""
        results: list[WriteResult] = []
        for start in range(0, len(changes), COLLECTION_LIMIT):
            chunk = changes[start : start + COLLECTION_LIMIT]
            try:
                results.extend(self._write_collection(chunk))
            except TransientError as exc:
                results.extend(_not_written(chunk, "retry", str(exc)))
                results.extend(_not_written(changes[start + COLLECTION_LIMIT :], "retry",
                                            f"not sent after the call before it failed: {exc}"))
                break
            except PermanentError as exc:
                results.extend(_not_written(chunk, "failed", str(exc)))
        return results

    def api_usage(self) -> tuple[int, int] | None:
        salesforce = self._session.current
        usage = salesforce.api_usage.get("api-usage") if salesforce is not None else None
        return (int(usage.used), int(usage.total)) if usage is not None else None

    def current_owners(self, changes: Sequence[OwnerChange]) -> dict[str, str]:
        """The records' owners now, one SOQL query per object type and 200 ids."""
        by_type: dict[str, list[str]] = {}
        for change in changes:
            by_type.setdefault(change.object_type, []).append(change.record_id)
        owners: dict[str, str] = {}
        for object_type, record_ids in by_type.items():
            for start in range(0, len(record_ids), IDS_PER_QUERY):
                quoted = ", ".join(f"'{record_id}'" for record_id in record_ids[start : start + IDS_PER_QUERY])
                soql = f"SELECT Id, OwnerId FROM {object_type} WHERE Id IN ({quoted})"
                try:
                    result = self._session.call(lambda salesforce, soql=soql: salesforce.query_all(soql))
                except (SalesforceError, requests.RequestException) as exc:
                    raise typed_error(exc, f"reading {object_type} owners back") from exc
                owners.update({record["Id"]: record["OwnerId"] for record in result.get("records", [])})
        return owners

    def _patch(self, payload: dict[str, Any]) -> Any:
        return self._session.call(lambda salesforce: salesforce.restful(
            "composite/sobjects", method="PATCH", json=payload, headers=BATON_HEADERS))

    def _write_collection(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        """One sObject Collections PATCH: each record's entry sets OwnerId and the routing facts its outbox row
        carries, so a record's facts are written exactly when (and only when) its owner is. Changes of one
        record to different user fields (its owner, a booking's host field) share its one entry, and its
        answer: Salesforce documents no answer for a record listed twice in one call."""
        entries = _record_entries(changes)
        payload = {"allOrNone": False, "records": [entry for entry, _ in entries]}
        try:
            response = self._patch(payload)
        except (SalesforceError, requests.RequestException) as exc:
            raise typed_error(exc, "the sObject Collections call") from exc
        if not isinstance(response, list) or len(response) != len(entries):
            raise TransientError(f"unexpected sObject Collections answer: {response!r:.200}")
        return [_result(change, item) for (_, written), item in zip(entries, response, strict=True)
                for change in written]


def _record_entries(changes: Sequence[OwnerChange]) -> list[tuple[dict[str, Any], list[OwnerChange]]]:
    """One record entry per record, in the order first listed, with the changes it carries."""
    entries: dict[tuple[str, str], tuple[dict[str, Any], list[OwnerChange]]] = {}
    for change in changes:
        entry, written = entries.setdefault(
            (change.object_type, change.record_id),
            ({"attributes": {"type": change.object_type}, "id": change.record_id}, []))
        if change.fields:
            entry.update(change.fields)
        entry[change.owner_field] = change.owner_id
        written.append(change)
    return list(entries.values())


def _not_written(changes: Sequence[OwnerChange], status: str, error: str) -> list[WriteResult]:
    return [WriteResult(change.routing_id, False, status, error) for change in changes]


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
