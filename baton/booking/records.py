"""The record's owner and its account's owner, for the host options record_owner and account_owner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.store import Store

ACCOUNT_LOOKUPS = ("AccountId", "ConvertedAccountId")


def _synced(store: Store, object_type: str, record_id: str | None) -> dict[str, Any]:
    if not record_id or object_type not in ("Account", "Contact", "Lead"):
        return {}
    row = store.synced_row(object_type, record_id)
    return row if row and not row.get("removed_reason") else {}


def record_owner(store: Store, object_type: str, record_id: str, fields: Mapping[str, Any]) -> str | None:
    """The owner the scheduler's record names, else Baton's latest decision, else the synced copy."""
    if fields.get("OwnerId"):
        return str(fields["OwnerId"])
    with store.transaction() as transaction:
        state = transaction.record_states([(object_type, record_id)]).get((object_type, record_id))
    if state is not None and state.owner_id:
        return state.owner_id
    return _synced(store, object_type, record_id).get("owner_id")


def account_owner(store: Store, object_type: str, record_id: str, fields: Mapping[str, Any]) -> str | None:
    """The owner of the record's account (the record itself for an Account), from the synced copy."""
    if object_type == "Account":
        return record_owner(store, object_type, record_id, fields)
    account_id = next((str(fields[name]) for name in ACCOUNT_LOOKUPS if fields.get(name)), None)
    if account_id is None and object_type == "Contact":
        account_id = _synced(store, "Contact", record_id).get("account_id")
    return _synced(store, "Account", account_id).get("owner_id")
