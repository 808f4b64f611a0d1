"""Records' owners as Salesforce has them now, for ``baton reconcile``: SOQL by ids through simple-salesforce
(``SELECT Id, OwnerId ... WHERE Id IN (...)``, 200 ids a query), or for a large set one Bulk API 2.0 query job
over the object's ``Id`` and ``OwnerId``, read in CSV pages. Only reads: nothing is written to Salesforce here.

Errors are Baton's: ``TransientError`` (Salesforce away, 5xx, 429), ``PermanentError`` (a refusal, e.g. an
object the integration user cannot read), ``InputError`` (not an object name or not record ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from simple_salesforce import Salesforce

from adapters.salesforce.bulk import BulkClient
from adapters.salesforce.rereads import IDS_PER_QUERY, SoqlRecordReader, checked_object

BULK_FROM = 10_000  # from this many records of one object, one Bulk API 2.0 job beats 50 or more SOQL queries
OWNER_FIELDS = ("Id", "OwnerId")


class OwnerQuery(StrEnum):
    """How owners are read: SOQL by ids, a Bulk API 2.0 query, or SOQL below ``BULK_FROM`` records and Bulk
    from there."""

    AUTO = "auto"
    SOQL = "soql"
    BULK = "bulk"


def id15(record_id: str) -> str:
    """The case-sensitive 15-character form of a Salesforce id (an 18-character id adds a checksum)."""
    return record_id[:15]


class SalesforceOwners:
    """Reads owners through one logged-in simple-salesforce session."""

    def __init__(self, salesforce: Salesforce, via: OwnerQuery = OwnerQuery.AUTO, bulk_poll_ms: int = 2_000,
                 bulk_from: int = BULK_FROM):
        self._salesforce = salesforce
        self.via = via
        self._bulk_poll_ms = bulk_poll_ms
        self._bulk_from = bulk_from
        self.queries: dict[OwnerQuery, int] = {OwnerQuery.SOQL: 0, OwnerQuery.BULK: 0}  # what was run, for the report

    def owners(self, object_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        """The 15-character id of each of these records that exists (and Baton's user can see) -> its owner id."""
        checked_object(object_type)
        if not record_ids:
            return {}
        if self.via is OwnerQuery.BULK or (self.via is OwnerQuery.AUTO and len(record_ids) >= self._bulk_from):
            return self._by_bulk_query(object_type, {id15(record_id) for record_id in record_ids})
        return self._by_soql(object_type, record_ids)

    def _by_soql(self, object_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        reader = SoqlRecordReader(self._salesforce)
        found: dict[str, str] = {}
        for start in range(0, len(record_ids), IDS_PER_QUERY):
            self.queries[OwnerQuery.SOQL] += 1
            for record in reader.selected(object_type, OWNER_FIELDS, record_ids[start : start + IDS_PER_QUERY]):
                found[id15(str(record["Id"]))] = str(record["OwnerId"])
        return found

    def _by_bulk_query(self, object_type: str, wanted: set[str]) -> dict[str, str]:
        client = BulkClient(self._salesforce, self._bulk_poll_ms)
        self.queries[OwnerQuery.BULK] += 1
        job_id = client.start_query(f"SELECT {', '.join(OWNER_FIELDS)} FROM {object_type}")
        found: dict[str, str] = {}
        for page in client.query_pages(job_id):
            for row in page:
                key = id15(row.get("Id", ""))
                if key in wanted:
                    found[key] = row.get("OwnerId", "")
        return found
