"""The fake org's query resources, in Salesforce's REST format.

``GET /services/data/vXX.X/query?q=SOQL`` (and ``/queryAll``, which also returns deleted records)
answers ``{"totalSize", "done", "records", "nextRecordsUrl"}``; each record carries its
``attributes`` (type and url) and the selected fields. Results longer than a page are kept under a
query locator and served from ``/query/{locator}-{offset}`` (Salesforce's own ``nextRecordsUrl``
shape, also for queryAll). A page holds ``Sforce-Query-Options: batchSize=N`` records when the
client asks, else the org's ``page_size``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from entrypoints.demo.soql import Query, SoqlError, field_key, field_value, parse

API_VERSION = "61.0"
DATA_PATH = f"/services/data/v{API_VERSION}"
_NEW_QUERY = re.compile(rf"^{re.escape(DATA_PATH)}/(?P<resource>query|queryAll)/?$")
_MORE_RESULTS = re.compile(rf"^{re.escape(DATA_PATH)}/(?:query|queryAll)/(?P<locator>01g\w+)-(?P<offset>\d+)$")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_locator_numbers = itertools.count(1)

Answer = tuple[int, Any]


@dataclass
class QueryCursor:
    """The rest of one query's results, as Salesforce keeps them behind a query locator."""

    records: list[dict[str, Any]]
    page_size: int


def _error(status: int, code: str, message: str) -> Answer:
    return status, [{"message": message, "errorCode": code}]


def answer_query(records: Mapping[str, list[dict[str, Any]]], cursors: dict[str, QueryCursor], path: str,
                 headers: Mapping[str, str], default_page_size: int) -> Answer | None:
    """The answer to a query request, or None when ``path`` is no query resource."""
    parts = urlsplit(path)
    new = _NEW_QUERY.match(parts.path)
    if new is not None:
        soql = parse_qs(parts.query).get("q", [""])[0]
        page_size = _page_size(headers, default_page_size)
        return _first_page(records, cursors, soql, new["resource"] == "queryAll", page_size)
    more = _MORE_RESULTS.match(parts.path)
    if more is not None:
        cursor = cursors.get(more["locator"])
        if cursor is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return 200, _page(cursors, more["locator"], cursor, int(more["offset"]))
    return None


def _page_size(headers: Mapping[str, str], default: int) -> int:
    options = next((value for key, value in headers.items() if key.lower() == "sforce-query-options"), "")
    found = _BATCH_SIZE.search(options)
    return int(found.group(1)) if found else default


def _first_page(records: Mapping[str, list[dict[str, Any]]], cursors: dict[str, QueryCursor], soql: str,
                include_deleted: bool, page_size: int) -> Answer:
    try:
        query = parse(soql)
    except SoqlError as exc:
        return _error(400, exc.code, str(exc))
    object_name = next((name for name in records if name.lower() == query.object_name.lower()), None)
    if object_name is None:
        return _error(400, "INVALID_TYPE", f"sObject type '{query.object_name}' is not supported.")
    stored = [{"IsDeleted": False, **record} for record in records[object_name]
              if include_deleted or not field_value(record, "IsDeleted")]
    found = [_project(query, object_name, record) for record in query.run(stored)]
    locator = f"01g{next(_locator_numbers):012d}AAA"
    cursors[locator] = QueryCursor(found, page_size)
    return 200, _page(cursors, locator, cursors[locator], 0)


def _page(cursors: dict[str, QueryCursor], locator: str, cursor: QueryCursor, offset: int) -> dict[str, Any]:
    end = offset + cursor.page_size
    body: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records),
                            "records": cursor.records[offset:end]}
    if body["done"]:
        cursors.pop(locator, None)
    else:
        body["nextRecordsUrl"] = f"{DATA_PATH}/query/{locator}-{end}"
    return body


def _attributes(object_name: str, record_id: Any) -> dict[str, str]:
    return {"type": object_name, "url": f"{DATA_PATH}/sobjects/{object_name}/{record_id}"}


def _project(query: Query, object_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The selected fields in Salesforce's shape: ``attributes`` first, relationships as nested objects."""
    out: dict[str, Any] = {"attributes": _attributes(object_name, field_value(record, "Id"))}
    for name in query.fields:
        head, _, rest = name.partition(".")
        key = field_key(record, head)
        if not rest:
            out[key] = field_value(record, head)
            continue
        parent = record.get(key)
        if not isinstance(parent, Mapping):
            out[key] = None
            continue
        nested = out.setdefault(key, {"attributes": _attributes(str(parent.get("attributes", {}).get("type", head)),
                                                                 field_value(parent, "Id"))})
        nested[field_key(parent, rest)] = field_value(parent, rest)
    return out
