"""Baton's own writes coming back as change events, told apart without ``changeOrigin``. Pure.

Baton sends ``Sforce-Call-Options: client=baton`` on every write, and a change event carrying that origin is
dropped at once (``routing.dispatch.caused_by_baton``). Some writes reach the change stream without it (a Bulk
API job, a tool sharing the integration user, an org that strips the option), so a second guard looks at what
the change did: an UPDATE committed by Baton's integration user that changed only fields Baton itself writes
to that object (the owner, a booking's Event fields, the routing facts the org config's ``writeback`` maps and a
booking's host field,
plus the fields Salesforce stamps on every write) is Baton's own write. Any other change by
that user is routed as usual, since other integrations may share the user.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from routing.booking.config import EVENT_FIELDS
from routing.changes import ChangeType
from routing.graph import OWNER_FIELD, same_salesforce_id

SYSTEM_FIELDS = frozenset({"LastModifiedDate", "LastModifiedById", "SystemModstamp"})
# The booking's Salesforce Event (routing/booking/config.py). Every other object Baton writes its owner, and the
# routing facts mapped.
FIELDS_BATON_WRITES = {"Event": EVENT_FIELDS}
OWNER_ONLY = frozenset({OWNER_FIELD})


def fields_baton_writes(object_type: str, written: Mapping[str, Collection[str]] | None = None) -> frozenset[str]:
    """The fields of ``object_type`` Baton writes: the owner, a booking's Event fields, and what ``written``
    names for the object (the org config's ``fields_baton_writes``: routing facts, a booking's host field)."""
    fields = FIELDS_BATON_WRITES.get(object_type, OWNER_ONLY)
    return fields | frozenset((written or {}).get(object_type, ()))


def _lowered(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def own_write_echo(object_type: str, change: ChangeType, changed_by: str | None,
                   changed_fields: Collection[str] | None, integration_user_id: str | None,
                   written: Mapping[str, Collection[str]] | None = None) -> str | None:
    """Why this change is Baton's own write coming back (a reason to log), or None to route it as usual.

    Only an UPDATE whose change list is known and not empty qualifies: without one, nothing says the
    change was Baton's. The fields ``written`` names per object (compared as Salesforce compares API names,
    without case) count as Baton's."""
    if change is not ChangeType.UPDATE or not changed_fields:
        return None
    if not same_salesforce_id(changed_by, integration_user_id):
        return None
    own = _lowered(fields_baton_writes(object_type, written) | SYSTEM_FIELDS)
    if not _lowered(changed_fields) <= own:
        return None
    return (f"UPDATE by Baton's integration user {changed_by} changing only fields Baton writes "
            f"({', '.join(sorted(set(changed_fields)))}): Baton's own write without client=baton in changeOrigin")
