"""Bulk API 2.0 in the fake org, in Salesforce's wire format: query jobs over ``org.records`` read in CSV pages
by locator, and ingest jobs (CSV upload, ``UploadComplete``, job info, failed/successful/unprocessed results)
that write ``OwnerId``. Faults: statuses for a results page, per-record error codes (``fail_record``), and the
org's ``next_outcomes`` and ``error_share`` (an ingest job's POST, PUT and PATCH are writes, the rest reads).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from entrypoints.demo.fake_faults import deliver

if TYPE_CHECKING:
    from entrypoints.demo.fake_salesforce import FakeOrg

API_VERSION = "61.0"
JOBS_PREFIX = f"/services/data/v{API_VERSION}/jobs/"
API_LIMIT = 15_000
DEFAULT_PAGE_SIZE = 2_000
USER_ID = "005000000000099AAA"
SELECT = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<object>\w+)(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+limit\s+(?P<limit>\d+))?\s*$", re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*(?P<op>=|!=|\bin\b)\s*(?P<value>'[^']*'|\([^)]*\))\s*$", re.IGNORECASE)
ERROR_MESSAGES = {
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
    "ENTITY_IS_DELETED": "entity is deleted",
}


def is_bulk(path: str) -> bool:
    return path.startswith(JOBS_PREFIX)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if value is None else value for value in row] for row in rows])
    return buffer.getvalue().encode()


class BulkRefusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _value(record: dict[str, Any], name: str) -> Any:
    """A field's value by its API name, which SOQL reads case-insensitively."""
    if name in record:
        return record[name]
    lowered = name.lower()
    return next((value for key, value in record.items() if key.lower() == lowered), None)


def _matches(record: dict[str, Any], where: str | None) -> bool:
    if not where:
        return True
    for part in re.split(r"\s+and\s+", where, flags=re.IGNORECASE):
        condition = CONDITION.match(part)
        if condition is None:
            raise BulkRefusal(400, "MALFORMED_QUERY", f"unsupported condition {part!r}")
        actual = _value(record, condition["field"])
        op, raw = condition["op"].lower(), condition["value"]
        values = [v.strip().strip("'") for v in raw.strip("()").split(",")] if op == "in" else [raw.strip("'")]
        if (actual in values) != (op in ("=", "in")):
            return False
    return True


@dataclass
class FakeBulk:
    """The org's Bulk API 2.0 jobs and every Bulk call made (method, path)."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # of each request, in the order of ``requests``
    page_faults: dict[int, deque[int]] = field(default_factory=dict)
    page_size: int = DEFAULT_PAGE_SIZE
    polls_before_done: int = 0
    reported_usage: tuple[int, int] | None = None
    ingest_usage: tuple[int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_results_page(self, first_record: int, *statuses: int) -> None:
        """The next requests for the results page starting at ``first_record`` answer these statuses."""
        self.page_faults.setdefault(first_record, deque()).extend(statuses)

    def calls(self, method: str | None = None, kind: str | None = None) -> list[tuple[str, str]]:
        """Bulk calls, optionally of one method and of ``query`` or ``ingest`` jobs."""
        return [(m, p) for m, p in self.requests
                if (method is None or m == method) and (kind is None or p[len(JOBS_PREFIX):].startswith(kind))]

    def ingest_jobs(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs.values() if job["jobType"] == "V2Ingest"]

    # dispatch ----------------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler, org: FakeOrg) -> None:
        """An ingest job's POST, PUT or PATCH is a write (it may be carried out and its answer lost); the rest
        reads (``org.draw_bulk_fault``)."""
        method = handler.command
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length) if length else b""
        parts = url.path[len(JOBS_PREFIX):].strip("/").split("/")
        with self.lock:
            self.requests.append((method, url.path))
            self.headers.append(dict(handler.headers))
            fault = org.draw_bulk_fault(write=parts[0] == "ingest" and method != "GET")
            status, payload, headers = (self._carry_out(method, parts, parse_qs(url.query), body, org)
                                        if fault is None or fault.applies else (*org.refusal(fault), {}))
            usage = self.ingest_usage if parts[0] == "ingest" else None
            used, limit = usage or self.reported_usage or (len(org.calls) + len(self.requests), API_LIMIT)
        headers["Sforce-Limit-Info"] = f"api-usage={used}/{limit}"
        deliver(handler, fault, (status, payload), lambda code, answer: self._respond(handler, code, answer, headers),
                org.lost_answer)

    def _carry_out(self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes,
                   org: FakeOrg) -> tuple[int, Any, dict[str, str]]:
        try:
            return self._route(method, parts, query, body, org)
        except BulkRefusal as refusal:
            return refusal.status, [{"errorCode": refusal.code, "message": refusal.message}], {}

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes,
               org: FakeOrg) -> tuple[int, Any, dict[str, str]]:
        kind, rest = parts[0], parts[1:]
        if kind == "query" and method == "POST" and not rest:
            return 200, self._create_query(json.loads(body), org), {}
        if kind == "ingest" and method == "POST" and not rest:
            return 200, self._create_ingest(json.loads(body)), {}
        job = self.jobs.get(rest[0]) if rest else None
        if job is None or job["jobType"] != ("V2Query" if kind == "query" else "V2Ingest"):
            raise BulkRefusal(404, "NOT_FOUND", "The requested resource does not exist")
        action = rest[1] if len(rest) > 1 else None
        if method == "GET" and action is None:
            return 200, self._info(job), {}
        if kind == "query" and method == "GET" and action == "results":
            return self._results_page(job, query)
        if kind == "ingest" and method == "PUT" and action == "batches":
            return self._upload(job, body)
        if kind == "ingest" and method == "PATCH" and action is None:
            return 200, self._set_state(job, json.loads(body)["state"], org), {}
        if kind == "ingest" and method == "GET" and action in ("failedResults", "successfulResults",
                                                                "unprocessedrecords"):
            return 200, self._ingest_results(job, action), {"Content-Type": "text/csv"}
        raise BulkRefusal(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = payload if isinstance(payload, bytes) else (json.dumps(payload).encode() if payload is not None else b"")
        handler.send_response(status)
        content_type = headers.pop("Content-Type", "application/json;charset=UTF-8")
        if data:
            handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # jobs --------------------------------------------------------------------------------------------
    def _new_job(self, job_type: str, **values: Any) -> dict[str, Any]:
        job_id = f"750{len(self.jobs) + 1:012d}AAA"
        job = {"id": job_id, "createdById": USER_ID, "createdDate": _now(), "systemModstamp": _now(),
               "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(API_VERSION),
               "lineEnding": "LF", "columnDelimiter": "COMMA", "jobType": job_type, "polls": 0, **values}
        self.jobs[job_id] = job
        return job

    def _info(self, job: dict[str, Any]) -> dict[str, Any]:
        job["polls"] += 1
        if job["state"] in ("UploadComplete", "InProgress") and job["polls"] > self.polls_before_done:
            job["state"] = job.pop("final_state", "JobComplete")
        elif job["state"] == "UploadComplete":
            job["state"] = "InProgress"
        public = {k: v for k, v in job.items() if not k.startswith("_") and k not in ("polls", "final_state")}
        public.update(retries=0, totalProcessingTime=5, apiActiveProcessingTime=3, apexProcessingTime=0)
        return public

    def _create_query(self, request: dict[str, Any], org: FakeOrg) -> dict[str, Any]:
        if request.get("operation") not in ("query", "queryAll") or not request.get("query"):
            raise BulkRefusal(400, "INVALIDJOB", "operation query and a query are required")
        parsed = SELECT.match(request["query"])
        if parsed is None:
            raise BulkRefusal(400, "MALFORMED_QUERY", f"cannot parse {request['query']!r}")
        object_type = parsed["object"]
        if object_type not in org.records:
            raise BulkRefusal(400, "INVALID_TYPE", f"sObject type '{object_type}' is not supported.")
        names = [name.strip() for name in parsed["fields"].split(",")]
        rows = [[_value(record, name) for name in names]
                for record in org.records[object_type] if _matches(record, parsed["where"])]
        if parsed["limit"]:
            rows = rows[: int(parsed["limit"])]
        job = self._new_job("V2Query", operation=request["operation"], object=object_type, state="UploadComplete",
                            numberRecordsProcessed=len(rows), _header=names, _rows=rows)
        return {k: v for k, v in job.items() if not k.startswith("_") and k not in ("polls", "jobType")}

    def _results_page(self, job: dict[str, Any], query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if job["state"] != "JobComplete":
            raise BulkRefusal(400, "INVALIDJOBSTATE", f"job {job['id']} is {job['state']}")
        start = int(query.get("locator", ["0"])[0] or 0)
        faults = self.page_faults.get(start)
        if faults:
            status = faults.popleft()
            raise BulkRefusal(status, "SERVER_UNAVAILABLE" if status >= 500 else "REQUEST_LIMIT_EXCEEDED", "injected")
        size = int(query.get("maxRecords", [self.page_size])[0])
        rows = job["_rows"][start : start + size]
        end = start + len(rows)
        headers = {"Content-Type": "text/csv", "Sforce-NumberOfRecords": str(len(rows)),
                   "Sforce-Locator": str(end) if end < len(job["_rows"]) else "null"}
        return 200, _csv(job["_header"], rows), headers

    def _create_ingest(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("operation") not in ("insert", "update", "upsert", "delete", "hardDelete"):
            raise BulkRefusal(400, "INVALIDJOB", f"unknown operation {request.get('operation')!r}")
        if not request.get("object") or request.get("contentType", "CSV") != "CSV":
            raise BulkRefusal(400, "INVALIDJOB", "object is required and contentType must be CSV")
        job = self._new_job("V2Ingest", operation=request["operation"], object=request["object"], state="Open",
                            assignmentRuleId=request.get("assignmentRuleId"), numberRecordsProcessed=0,
                            numberRecordsFailed=0, _data=None, _outcomes=[])
        job["contentUrl"] = f"services/data/v{API_VERSION}/jobs/ingest/{job['id']}/batches"
        return {k: v for k, v in job.items() if not k.startswith("_") and k not in ("polls", "jobType")}

    def _upload(self, job: dict[str, Any], body: bytes) -> tuple[int, Any, dict[str, str]]:
        if job["state"] != "Open" or job["_data"] is not None:
            raise BulkRefusal(409, "INVALIDJOBSTATE", f"job {job['id']} takes no more data")
        job["_data"] = body.decode("utf-8")
        return 201, None, {}

    def _set_state(self, job: dict[str, Any], state: str, org: FakeOrg) -> dict[str, Any]:
        if state == "Aborted":
            job["state"] = "Aborted"
        elif state == "UploadComplete" and job["state"] == "Open" and job["_data"]:
            job["state"] = "UploadComplete"
            self._process(job, org)
        else:
            raise BulkRefusal(400, "INVALIDJOBSTATE", f"cannot set {state} on a {job['state']} job")
        return {k: v for k, v in job.items() if not k.startswith("_") and k not in ("polls", "jobType")}

    def _process(self, job: dict[str, Any], org: FakeOrg) -> None:
        """Applies an update job at once; the state shows JobComplete after ``polls_before_done`` checks."""
        records = {record["Id"]: record for record in org.records.get(job["object"], [])}
        for row in csv.DictReader(io.StringIO(job["_data"])):
            record_id = row["Id"]
            faults = org.record_faults.get(record_id)
            code = faults.popleft() if faults else None
            if code is None and job["object"] in org.records and record_id not in records:
                code = "ENTITY_IS_DELETED"
            if code is None:
                values = {k: (None if v == "#N/A" else v) for k, v in row.items() if k != "Id" and v != ""}
                if record_id in records:
                    records[record_id].update(values)
                del values["OwnerId"]
                if values:
                    org.field_values.setdefault(record_id, {}).update(values)
                org.owners[record_id] = row["OwnerId"]
                org.updates[record_id] += 1
            job["_outcomes"].append((row, code))
        job["numberRecordsProcessed"] = len(job["_outcomes"])
        job["numberRecordsFailed"] = sum(1 for _, code in job["_outcomes"] if code)

    def _ingest_results(self, job: dict[str, Any], kind: str) -> bytes:
        columns = list(job["_outcomes"][0][0]) if job["_outcomes"] else ["Id", "OwnerId"]
        if kind == "unprocessedrecords":
            return _csv(columns, [])
        if kind == "failedResults":
            rows = [[row["Id"], f"{code}:{ERROR_MESSAGES.get(code, 'injected')}:--", *row.values()]
                    for row, code in job["_outcomes"] if code]
            return _csv(["sf__Id", "sf__Error", *columns], rows)
        rows = [[row["Id"], "false", *row.values()] for row, code in job["_outcomes"] if not code]
        return _csv(["sf__Id", "sf__Created", *columns], rows)
