"""Opening the handoff page: Canvas signed requests (valid, tampered, expired, wrong secret, no record) and the
page and link tokens that stand for the scheduler afterwards."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from entrypoints.demo.handoff import CONSUMER_SECRET, LEAD_ID, SCHEDULER
from entrypoints.http.app import create_app
from entrypoints.http.canvas import CanvasRejected, verify_signed_request
from entrypoints.http.page_tokens import HEADER, PageClaims, TokenRejected, issue, read
from tests.support.handoff import (
    NOW,
    PAGE_SECRET,
    canvas_request,
    install_handoff,
    link_url,
    page_token,
    signed,
)
from tests.support.pipeline import Pipeline

MAX_AGE = timedelta(minutes=5)


def test_a_signed_request_from_salesforce_gives_the_scheduler_and_the_record() -> None:
    context = verify_signed_request(signed(), CONSUMER_SECRET, NOW + timedelta(seconds=30), MAX_AGE)

    assert (context.user_id, context.user_name, context.time_zone) == (SCHEDULER, "Sam Scheduler", "Europe/London")
    assert (context.object_type, context.record_id, context.organization_id) == ("Lead", LEAD_ID, "00D000000000062EAA")


def test_the_signature_is_base64_hmac_sha256_of_the_encoded_envelope_with_the_consumer_secret() -> None:
    import hashlib
    import hmac

    envelope = base64.b64encode(json.dumps(canvas_request()).encode()).decode()
    signature = base64.b64encode(hmac.new(CONSUMER_SECRET.encode(), envelope.encode(), hashlib.sha256).digest())

    context = verify_signed_request(f"{signature.decode()}.{envelope}", CONSUMER_SECRET, NOW, MAX_AGE)
    assert context.record_id == LEAD_ID


def tampered() -> str:
    signature = signed().partition(".")[0]
    forged = canvas_request(user_id="005000000000666AAA")
    return f"{signature}.{base64.b64encode(json.dumps(forged).encode()).decode()}"


@pytest.mark.parametrize(("name", "signed_request", "now", "reason"), [
    ("tampered", tampered(), NOW, "signature does not match"),
    ("wrong secret", signed(secret="another-apps-secret"), NOW, "signature does not match"),
    ("expired", signed(), NOW + timedelta(minutes=6), "stale"),
    ("issued in the future", signed(), NOW - timedelta(minutes=5), "stale"),
    ("undated", signed(issued_at=None), NOW, "no issuedAt"),
    ("not signed", base64.b64encode(json.dumps(canvas_request()).encode()).decode(), NOW, "SIGNATURE.ENVELOPE"),
    ("garbage", "!!!.???", NOW, "not Base64"),
])
def test_a_bad_or_stale_signed_request_is_refused(name: str, signed_request: str, now: object, reason: str) -> None:
    with pytest.raises(CanvasRejected, match=reason):
        verify_signed_request(signed_request, CONSUMER_SECRET, now, MAX_AGE)  # type: ignore[arg-type]


def test_without_an_age_limit_an_undated_signed_request_is_accepted() -> None:
    assert verify_signed_request(signed(issued_at=None), CONSUMER_SECRET, NOW, None).user_id == SCHEDULER


def test_page_tokens_are_signed_expire_and_are_never_links() -> None:
    claims = PageClaims(SCHEDULER, "Sam", "Lead", LEAD_ID, "Europe/London")
    token = issue(claims, PAGE_SECRET, "page", NOW + timedelta(minutes=30))

    assert read(token, PAGE_SECRET, "page", NOW) == claims
    with pytest.raises(TokenRejected, match="expired"):
        read(token, PAGE_SECRET, "page", NOW + timedelta(minutes=30))
    with pytest.raises(TokenRejected, match="not a link token"):
        read(token, PAGE_SECRET, "link", NOW)
    with pytest.raises(TokenRejected, match="signature"):
        read(token, "other-secret", "page", NOW)
    body, _, mac = token.partition(".")
    forged = base64.urlsafe_b64encode(base64.urlsafe_b64decode(body + "==").replace(LEAD_ID.encode(),
                                                                                    b"00Q000000000666AAA"))
    with pytest.raises(TokenRejected, match="signature"):
        read(f"{forged.decode().rstrip('=')}.{mac}", PAGE_SECRET, "page", NOW)


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    install_handoff(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield TestClient(create_app(pipeline.app))


def test_the_canvas_endpoint_opens_the_page_for_a_valid_request_and_answers_a_401_naming_why_otherwise(
    client: TestClient,
) -> None:
    page = client.post("/handoff/canvas", data={"signed_request": signed()})
    assert page.status_code == 200, page.text
    assert "Book a handover for" in page.text and 'name="baton-page-token"' in page.text
    assert ("frame-ancestors 'self' https://example.my.salesforce.com https://example.lightning.force.com "
            "https://example--c.vf.force.com") in page.headers["content-security-policy"]
    for bad, why in ((tampered(), "signature does not match"), (signed(secret="another-apps-secret"), "signature"),
                     (signed(issued_at=NOW - timedelta(hours=1)), "stale"), ("", "not SIGNATURE.ENVELOPE")):
        refused = client.post("/handoff/canvas", data={"signed_request": bad})
        assert refused.status_code == 401 and f"signed request refused: {why}" in refused.text
        assert "baton-page-token" not in refused.text


def test_a_correctly_signed_request_from_an_org_not_in_the_org_ids_gets_a_403_without_the_page(
    client: TestClient, pipeline: Pipeline,
) -> None:
    refused = client.post("/handoff/canvas", data={"signed_request": signed(organization_id="00D000000000999EAA")})
    assert refused.status_code == 403
    assert "00D000000000999EAA is not in BATON_SALESFORCE_ORG_IDS" in refused.text
    assert "baton-page-token" not in refused.text and "Book a handover" not in refused.text

    fifteen = client.post("/handoff/canvas", data={"signed_request": signed(organization_id="00D000000000062")})
    assert fifteen.status_code == 200 and "baton-page-token" in fifteen.text

    pipeline.app.settings = pipeline.app.settings.model_copy(update={"salesforce_org_ids": ""})
    unset = client.post("/handoff/canvas", data={"signed_request": signed()})
    assert unset.status_code == 403 and "baton-page-token" not in unset.text


def test_page_calls_need_the_page_token_header_and_the_link_opens_the_page(client: TestClient,
                                                                           pipeline: Pipeline) -> None:
    page = client.get(link_url(pipeline.app, ""))
    assert page.status_code == 200, page.text
    token = page_token(page.text)

    assert client.get("/handoff/availability").status_code == 401
    assert client.get("/handoff/availability", headers={HEADER: token + "x"}).status_code == 401
    answer = client.get("/handoff/availability", headers={HEADER: token})
    assert answer.status_code == 200 and 'class="slot"' in answer.text
    assert client.get("/handoff?link=" + token).status_code == 401  # a page token is not a link


def test_the_page_is_off_without_its_secret(client: TestClient, pipeline: Pipeline) -> None:
    pipeline.app.settings = pipeline.app.settings.model_copy(update={"page_token_secret": None})
    assert client.post("/handoff/canvas", data={"signed_request": signed()}).status_code == 404
    assert client.get("/handoff/availability").status_code == 404
