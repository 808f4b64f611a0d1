"""schemathesis against the web process's OpenAPI spec (in-process ASGI): valid and invalid requests to every
endpoint, with credentials; no answer is a 5xx, and every refusal is a 4xx whose body says what is wrong.

Bounded: 25 examples per operation (BATON_FUZZ_EXAMPLES), deterministic, no shrinking, well under a minute."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from entrypoints.http.app import create_app
from entrypoints.http.auth import SCOPES
from entrypoints.http.body import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE
from tests.support.booking import NOW, BookingChain, install_booking_ports
from tests.support.handoff import page_settings
from tests.support.pipeline import Pipeline

OUTBOUND_TOKEN = "fuzz-outbound-token"
EXAMPLES = int(os.environ.get("BATON_FUZZ_EXAMPLES", "25"))  # raise it for a deeper run outside CI
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "no-shrink": True},
    "phases": {"stateful": {"enabled": False}},
})


@pytest.fixture
def web(pipeline: Pipeline) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    install_booking_ports(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents(), booking_token=None,
                          booking_rate_per_minute=1_000_000, outbound_token=OUTBOUND_TOKEN,
                          max_request_bytes=100_000, auth_failures_per_minute=1_000_000, **page_settings())
    # (the hostile shapes send a bad token to every operation: more than a minute's allowance of failures)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    token, _ = pipeline.store.tokens.create("fuzz", SCOPES, NOW)
    yield create_app(pipeline.app), {"Authorization": f"Bearer {token}"}
    chain.drain()


@pytest.fixture
def api_schema(web: tuple[FastAPI, dict[str, str]]) -> Any:
    app, headers = web
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG, headers=headers)


schema = schemathesis.pytest.from_fixture("api_schema")


def _clear_refusal(response: Any) -> str | None:
    """What is unclear about a 4xx body: it must name the problem (JSON ``detail``, a SOAP faultstring, or the
    plain-text reason the handoff page's entry points give)."""
    text = response.text
    if "<faultstring>" in text:
        return None if text.split("<faultstring>", 1)[1].split("<", 1)[0].strip() else "empty faultstring"
    content_type = response.headers.get("content-type") or [""]  # schemathesis keeps each header's values
    if str(content_type[0] if isinstance(content_type, list) else content_type).startswith("text/plain"):
        return None if text.strip() else "empty text"
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        return f"not JSON: {text[:80]!r}"
    return None if detail else f"no detail: {text[:80]!r}"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_gets_a_5xx_and_every_refusal_says_why(case: Any, web: tuple[FastAPI, dict[str, str]]) -> None:
    _, headers = web
    if "token" in (case.path_parameters or {}):
        case.path_parameters["token"] = OUTBOUND_TOKEN  # past the secret path: the body parser is fuzzed
    response = case.call(headers=headers)

    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if 400 <= response.status_code < 500:
        assert _clear_refusal(response) is None, f"{case.method} {case.formatted_path}: {_clear_refusal(response)}"


DEEP_JSON = b"[" * 45_000 + b"]" * 45_000  # 90 KB (under the fixture's limit), 45,000 levels deep
DEEP_XML = b"<a>" * 12_000 + b"</a>" * 12_000
XML_CONTENT_TYPE = "text/xml"
NON_ASCII = "\u00e9\u20ac\u202e\u4e2d"  # é, €, a right-to-left override, 中
NON_ASCII_HEADER = NON_ASCII.encode().decode("latin-1")  # the same bytes, as a header value is read


def _hostile_shapes(case: Any, headers: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """What an attacker sends to ``case``'s operation (issue 20), each as the parts of the request it sets:
    JSON nested 45,000 deep (XML 12,000 deep) as the body of an operation that takes one, a Canvas signed request with non-ASCII
    text, non-ASCII text in each path and query parameter, and in the bearer token."""
    body = case.operation.definition.raw.get("requestBody", {}).get("content", {})
    if JSON_CONTENT_TYPE in body:
        yield "nested JSON, 45,000 deep", {"data": DEEP_JSON,
                                           "headers": {**headers, "content-type": JSON_CONTENT_TYPE}}
    if XML_CONTENT_TYPE in body:
        yield "nested XML, 12,000 deep", {"data": DEEP_XML, "headers": {**headers, "content-type": XML_CONTENT_TYPE}}
    if FORM_CONTENT_TYPE in body:
        envelope = base64.b64encode(NON_ASCII.encode()).decode()
        for value in (f"AAAA.{envelope}", NON_ASCII, f"{NON_ASCII}.{NON_ASCII}"):
            yield f"signed request {value!r}", {"data": {"signed_request": value},
                                                "headers": {**headers, "content-type": FORM_CONTENT_TYPE}}
    for name in case.path_parameters or {}:
        yield f"path {name}={NON_ASCII}", {"path_parameters": {name: NON_ASCII}}
    for name in case.query or {}:
        yield f"query {name}={NON_ASCII}", {"query": {name: NON_ASCII}}
    yield "a non-ASCII bearer token", {"headers": {**headers, "Authorization": f"Bearer {NON_ASCII_HEADER}"}}


@pytest.fixture
def operations_tried() -> set[str]:
    return set()


@schema.parametrize()
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_hostile_shapes_on_every_operation_get_a_4xx_that_says_why(
        case: Any, web: tuple[FastAPI, dict[str, str]], operations_tried: set[str]) -> None:
    """Each shape on the first example schemathesis makes of each operation with its own method; the shape
    replaces that part of the example, the rest is sent as generated, with valid credentials."""
    if case.method.upper() != case.operation.method.upper() or case.operation.label in operations_tried:
        return
    operations_tried.add(case.operation.label)
    _, headers = web
    path = {**(case.path_parameters or {}), **({"token": OUTBOUND_TOKEN} if "token" in (case.path_parameters or {}) else {})}
    query = dict(case.query or {})
    tried = []
    for shape, parts in _hostile_shapes(case, headers):
        case.headers = parts.get("headers", dict(headers))
        case.path_parameters = {**path, **parts.get("path_parameters", {})}
        case.query = {**query, **parts.get("query", {})}
        response = case.call(**({"data": parts["data"]} if "data" in parts else {}))
        where = f"{case.method} {case.path} with {shape}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        if response.status_code >= 400:
            assert _clear_refusal(response) is None, f"{where}: {_clear_refusal(response)}"
        if shape.startswith("nested"):
            assert response.status_code == 400, f"{where}: {response.status_code} {response.text[:300]}"
        tried.append((shape, response.status_code))
    assert tried


def test_every_endpoint_but_health_refuses_a_caller_without_credentials(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ = web
    client = TestClient(app)
    open_paths = {"/healthz", "/readyz"}
    refused: dict[str, int] = {}
    for route in app.routes:
        path = getattr(route, "path", "")
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            if path in open_paths:
                continue
            url = path.replace("{token}", "guessed").replace("{booking_id}", "x")
            refused[f"{method} {path}"] = client.request(method, url, json={}).status_code

    assert refused and all(status in (401, 404) for status in refused.values()), refused
    assert refused.pop("POST /salesforce/outbound/{token}") == 404  # a wrong secret path is no endpoint at all
    assert set(refused.values()) == {401}


def test_the_api_spec_is_served_only_to_a_caller_with_a_valid_token(web: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = web
    client = TestClient(app)

    assert client.get("/openapi.json").status_code == 401
    assert client.get("/openapi.json", headers={"Authorization": "Bearer guessed"}).status_code == 401
    spec = client.get("/openapi.json", headers=headers)
    assert spec.status_code == 200 and "/bookings" in spec.json()["paths"]
    assert {client.get(page).status_code for page in ("/docs", "/redoc")} == {404}
