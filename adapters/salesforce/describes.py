"""Salesforce describes into the store: ``GET sobjects/{object}/describe`` (simple-salesforce ``restful``) turned
into ``ObjectDescribe`` (only what Baton reads of each field), and the objects ``baton sync`` describes.

``baton sync`` describes every routed object on each pass and saves it (``DescribeRepository``); that pass is
the scheduled refresh. ``baton check`` / ``baton config apply`` (write-back mappings) and the record reader
(which fields to read back) read the stored describe instead of describing per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from adapters.salesforce.rereads import checked_object, queryable_fields, salesforce_failure
from kernel.errors import BatonError, PermanentError
from kernel.ports.describes import DescribeRepository, FieldDescribe, ObjectDescribe
from routing.config import OrgConfig

log = structlog.get_logger(__name__)

# Described on every pass whatever the stored config routes: a config about to be applied may map any of them.
STANDARD_OBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Case")


def field_describe(item: dict[str, Any]) -> FieldDescribe:
    """One entry of a describe's ``fields``."""
    picklist = tuple(str(value["value"]) for value in item.get("picklistValues") or ()
                     if value.get("active", True) and value.get("value") is not None)
    return FieldDescribe(
        name=str(item["name"]), type=str(item.get("type") or "string"), updateable=bool(item.get("updateable")),
        length=int(item.get("length") or 0), reference_to=tuple(item.get("referenceTo") or ()),
        picklist_values=picklist, restricted_picklist=bool(item.get("restrictedPicklist")),
        calculated=bool(item.get("calculated")),
    )


def object_describe(object_type: str, body: dict[str, Any], fetched_at: datetime) -> ObjectDescribe:
    """A describe answer as Baton keeps it; raises PermanentError when it is not a describe of ``object_type``."""
    items = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) and item.get("name") for item in items):
        raise PermanentError(f"describe {object_type}: the answer has no list of named fields")
    named = body.get("name") or object_type
    if str(named).lower() != object_type.lower():
        raise PermanentError(f"describe {object_type}: the answer describes {named}")
    fields = {str(item["name"]): field_describe(item) for item in items}
    return ObjectDescribe(str(named), fields, fetched_at, tuple(queryable_fields(body)))


def fetch_describe(salesforce: Salesforce, object_type: str, fetched_at: datetime) -> ObjectDescribe:
    """Describes ``object_type`` now; Salesforce trouble as Baton's typed errors (``rereads.salesforce_failure``)."""
    path = f"sobjects/{checked_object(object_type)}/describe"
    try:
        body = salesforce.restful(path)
    except (SalesforceError, requests.RequestException) as exc:
        raise salesforce_failure(exc, f"describe {object_type}") from exc
    return object_describe(object_type, body or {}, fetched_at)


def routed_objects(config: OrgConfig | None, extra: Iterable[str] = ()) -> list[str]:
    """The objects to describe: the standard routed ones, the stored config's graphs, write-back mapping and
    booking objects, and ``extra`` (``baton sync --describe``), each once, in that order."""
    names: list[str] = [*STANDARD_OBJECTS]
    if config is not None:
        names.extend([*config.graphs, *config.writeback, *config.booking.objects])
    names.extend(extra)
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def sync_describes(salesforce: Salesforce, describes: DescribeRepository, objects: Iterable[str],
                   now: datetime) -> dict[str, str | None]:
    """Describes each object and saves it; a failure is logged and left for the next pass (the stored describe,
    if any, stays). Returns per object None when saved, else why not."""
    outcome: dict[str, str | None] = {}
    for object_type in objects:
        try:
            describes.save(fetch_describe(salesforce, object_type, now))
        except BatonError as exc:
            log.warning("describe_failed", object_type=object_type, reason=str(exc), retry="next sync pass")
            outcome[object_type] = str(exc)
            continue
        outcome[object_type] = None
    return outcome
