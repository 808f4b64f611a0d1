"""schemathesis against the web process's OpenAPI spec (in-process ASGI): valid and invalid requests to every
endpoint, with credentials; no answer is a 5xx, and every refusal is a 4xx whose body says what is wrong.

Bounded: 25 examples per operation (BATON_FUZZ_EXAMPLES), deterministic, no shrinking, well under a minute."""

from __future__ import annotations

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
from tests.support.booking import NOW, BookingChain, install_booking_ports
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
                          salesforce_org_ids="00D000000000062EAA", max_request_bytes=100_000)
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
    """What is unclear about a 4xx body: it must name the problem (JSON ``detail`` or a SOAP faultstring)."""
    text = response.text
    if "<faultstring>" in text:
        return None if text.split("<faultstring>", 1)[1].split("<", 1)[0].strip() else "empty faultstring"
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
