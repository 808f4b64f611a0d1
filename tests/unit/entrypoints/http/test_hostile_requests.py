"""Requests an attacker sends (issue 20): a body far over the limit on every endpoint, JSON nested thousands
deep, non-ASCII where a signed token or envelope is expected. Each is refused with a 4xx that says what is
wrong, and no endpoint reads more of a body than the limit allows."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from entrypoints.demo.handoff import CONSUMER_SECRET, LEAD_ID
from entrypoints.http.app import create_app
from entrypoints.http.auth import SCOPES
from entrypoints.http.canvas import sign_request
from entrypoints.http.page_tokens import HEADER
from tests.support.booking import NOW, BookingChain
from tests.support.handoff import canvas_request, install_handoff, page_token, signed
from tests.support.pipeline import Pipeline

LIMIT = 300_000  # above the 200 KB of DEEP_JSON, so its parsing is what is tried
CHUNK = 64 * 1024
HUNDRED_MB = 100 * 1024 * 1024
OUTBOUND_TOKEN = "hostile-outbound-token"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # 200 KB: 100,000 levels deep
JSON_ENDPOINTS = ["/salesforce/events", "/bookings", "/bookings/meet-now", "/bookings/events",
                  "/bookings/b-1/cancel", "/bookings/b-1/reschedule", "/bookings/b-1/reassign",
                  f"/records/Lead/{LEAD_ID}/reassign"]


@pytest.fixture
def web(pipeline: Pipeline) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """The app with every endpoint on (booking API, handoff page, outbound messages) and headers that pass
    every credential check: a token with all scopes and the page token of an opened handoff page."""
    install_handoff(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    pipeline.app.settings = pipeline.app.settings.model_copy(update={
        "outbound_token": OUTBOUND_TOKEN, "max_request_bytes": LIMIT, "booking_rate_per_minute": 1_000_000})
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(),
                         RecordingSalesforceEvents())
    token, _ = pipeline.store.tokens.create("attacker-with-a-valid-token", SCOPES, NOW)
    app = create_app(pipeline.app)
    opened = TestClient(app).post("/handoff/canvas", data={"signed_request": signed()})
    assert opened.status_code == 200, opened.text
    yield app, {"Authorization": f"Bearer {token}", HEADER: page_token(opened.text)}
    chain.drain()


def _endpoints(app: FastAPI) -> list[tuple[str, str]]:
    filled = {"{token}": OUTBOUND_TOKEN, "{booking_id}": "b-1", "{object_type}": "Lead", "{record_id}": LEAD_ID}
    found = []
    for route in app.routes:
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or set()):
            if method != "HEAD":
                for name, value in filled.items():
                    path = path.replace(name, value)
                found.append((method, path))
    return found


def _asgi_call(app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: int,
               declared_length: int | None = None) -> tuple[int, int, bytes]:
    """Sends ``chunks`` chunks of 64 KiB to ``app`` (streamed, as a chunked upload arrives) and returns the
    status, how many body bytes the app pulled and the response body."""
    content_type = "text/xml" if "outbound" in path else (
        "application/x-www-form-urlencoded" if path.startswith("/handoff") else "application/json")
    raw_headers = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    raw_headers.append((b"content-type", content_type.encode()))
    raw_headers.append((b"content-length", str(declared_length).encode()) if declared_length is not None
                       else (b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": raw_headers, "client": ("10.1.2.3", 50000), "server": ("testserver", 80)}
    pulled = 0
    sent = 0
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        if sent >= chunks:
            return {"type": "http.disconnect"}
        sent += 1
        pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer["status"], pulled, answer["body"]


def test_no_endpoint_reads_more_of_a_100_mb_body_than_the_limit(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = web
    over: dict[str, Any] = {}
    readers: dict[str, int] = {}
    endpoints = _endpoints(app)
    for method, path in endpoints:
        status, pulled, body = _asgi_call(app, method, path, headers, HUNDRED_MB // CHUNK)
        if pulled > LIMIT + CHUNK or status >= 500:
            over[f"{method} {path}"] = (status, pulled, body[:120])
        if pulled:
            readers[f"{method} {path}"] = status

    assert len(endpoints) >= 20 and not over, over
    assert len(readers) >= 10 and set(readers.values()) == {413}, readers


def test_a_declared_100_mb_body_is_refused_before_a_byte_is_read(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = web
    answers = {f"{method} {path}": _asgi_call(app, method, path, headers, HUNDRED_MB // CHUNK, HUNDRED_MB)
               for method, path in _endpoints(app)}

    assert {status for status, _, _ in answers.values()} == {413}, answers
    assert {pulled for _, pulled, _ in answers.values()} == {0}
    canvas_status, _, canvas_body = answers["POST /handoff/canvas"]
    assert b"104857600 bytes" in canvas_body and b"limit" in canvas_body


def test_a_100_mb_canvas_post_is_refused_as_too_large_not_read_and_then_refused(
        web: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ = web
    status, pulled, body = _asgi_call(app, "POST", "/handoff/canvas", {}, HUNDRED_MB // CHUNK)

    assert status == 413 and b"limit" in body
    assert pulled <= 4 * CHUNK


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_json_nested_a_hundred_thousand_deep_is_a_400_that_says_so(
        web: tuple[FastAPI, dict[str, str]], path: str) -> None:
    app, headers = web
    response = TestClient(app).post(path, content=DEEP_JSON,
                                    headers={**headers, "content-type": "application/json"})

    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_json_nested_deeper_than_32_levels_is_a_400(web: tuple[FastAPI, dict[str, str]], path: str) -> None:
    app, headers = web
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    response = TestClient(app).post(path, content=json.dumps({"request_id": nested}),
                                    headers={**headers, "content-type": "application/json"})

    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "nested deeper than 32 levels" in response.json()["detail"]


def test_a_non_ascii_canvas_envelope_is_a_401_that_says_why(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ = web
    genuine = sign_request(canvas_request(), CONSUMER_SECRET)
    signature, _, envelope = genuine.partition(".")
    for forged in (f"{signature}.{envelope[:40]}é{envelope[40:]}", f"{signature}é.{envelope}", "é" * 300):
        response = TestClient(app).post("/handoff/canvas", data={"signed_request": forged})

        assert response.status_code == 401, (forged[:60], response.status_code, response.text[:200])
        assert "not ASCII" in response.text


def test_a_non_ascii_page_token_is_a_401_that_says_why(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = web
    token = headers[HEADER]
    for forged in (token[:20] + "é" + token[20:], token + "é", "é.é"):
        status, _, body = _asgi_call(app, "GET", "/handoff/availability", {HEADER: forged}, 0)

        assert status == 401, (forged[:40], status, body[:200])
        assert b"not ASCII" in body


def test_a_non_ascii_link_token_is_a_401_that_says_why(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ = web
    for link in ("%C3%A9", "eyJraW5kIjoi%C3%A9.abc", "abc.%E2%82%AC", "%FF%FE"):
        response = TestClient(app).get(f"/handoff?link={link}")

        assert response.status_code == 401, (link, response.status_code, response.text[:200])
        assert "link refused" in response.text


def test_non_ascii_credentials_and_path_tokens_are_4xx(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ = web
    bearer = _asgi_call(app, "GET", "/bookings/b-1", {"Authorization": "Bearer baton_é_secret"}, 0)
    outbound = _asgi_call(app, "POST", "/salesforce/outbound/tokén", {}, 1)
    envelope = base64.b64encode("é".encode()).decode()
    canvas = TestClient(app).post("/handoff/canvas", data={"signed_request": f"AAAA.{envelope}"})

    assert (bearer[0], outbound[0], canvas.status_code) == (401, 404, 401)
