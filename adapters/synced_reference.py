"""Reference data from Baton's synced copy of Salesforce (``baton sync``), rebuilt when the copy changes.

The account index needs accounts synced at least once, the person index leads or contacts; until
then they are None and the match stage says there is nothing to match against. Whether the copy
changed is one cheap query (newest ``written_at`` per table, last sync time per object), run at most
every ``refresh_ms``; a rebuild reads the live rows (tombstones skipped). The person index follows lead and
contact writes row by row (``adapters.person_index_cache``) rather than rebuilding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.person_index_cache import IncrementalPersonIndex
from adapters.reference import StampedCache
from kernel.ports.reference_sync import SyncedAccount, SyncedContact, SyncedLead, SyncedReads
from routing.matching import AccountIndex, PersonIndex

DEFAULT_REFRESH_MS = 5_000
DOMAINS_KEY = "domains"  # the synced account's extra domains (BATON_SYNC_ACCOUNT_DOMAIN_FIELDS), space-separated
ACCOUNT_SOURCES = ("Account", "User")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def account_record(row: SyncedAccount) -> dict[str, Any]:
    """A synced account row in the field names matching reads."""
    return {"Id": row.id, "Name": row.name, "Website": row.website, DOMAINS_KEY: row.domains,
            "OwnerId": row.owner_id, "OwnerIsActive": row.owner_is_active,
            "LastActivityDate": _iso(row.last_activity_date), "NumberOfEmployees": row.number_of_employees,
            "AnnualRevenue": row.annual_revenue}


def person_record(row: SyncedLead | SyncedContact) -> dict[str, Any]:
    """A synced lead or contact row in the field names matching reads (a contact's company is its account's name)."""
    lead = isinstance(row, SyncedLead)
    return {"Id": row.id, "FirstName": row.first_name, "LastName": row.last_name, "Email": row.email,
            "Company": row.company if lead else None, "AccountName": None if lead else row.account_name,
            "OwnerId": row.owner_id, "LastActivityDate": _iso(row.last_activity_date)}


class StoreReferenceData:
    """Account and person indexes over the synced tables; thread-safe, shared by a process's stage threads."""

    def __init__(self, copy: SyncedReads, refresh_ms: int = DEFAULT_REFRESH_MS):
        self._copy = copy
        interval_s = refresh_ms / 1000
        self._accounts = StampedCache(lambda: copy.stamp(ACCOUNT_SOURCES), self._build_accounts, interval_s)
        self._people = IncrementalPersonIndex(copy, person_record, interval_s)

    def account_index(self) -> AccountIndex | None:
        return self._accounts.get()

    def person_index(self) -> PersonIndex | None:
        return self._people.get()

    def _synced(self, object_types: Sequence[str]) -> bool:
        return any(self._copy.position(object_type) is not None for object_type in object_types)

    def _build_accounts(self) -> AccountIndex | None:
        if not self._synced(["Account"]):
            return None
        rows = self._copy.rows("Account")
        return AccountIndex.build((account_record(row) for row in rows), domain_fields=(DOMAINS_KEY,))
