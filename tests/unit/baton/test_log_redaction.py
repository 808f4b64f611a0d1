"""The access log filter and the structlog processor mask handoff link and page tokens wherever they travel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from baton.logging import AccessLogRedaction, redact_secrets
from entrypoints.http.page_tokens import PageClaims, issue

CLAIMS = PageClaims(scheduler_id="005000000000009AAA", scheduler_name="Sam", object_type="Lead",
                    record_id="00Q000000000001AAA")


@pytest.fixture(params=["link", "page"])
def token(request: pytest.FixtureRequest) -> str:
    return issue(CLAIMS, "page-secret", request.param, datetime.now(UTC) + timedelta(hours=1))


def access_line(path: str) -> str:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:50000", "GET", path, "1.1", 200), None)
    AccessLogRedaction().filter(record)
    return record.getMessage()


@pytest.mark.parametrize("path", ["/handoff?link={t}", "/handoff?x=1&link={t}&y=2", "/handoff/slot?page={t}"])
def test_a_token_in_the_access_log_line_is_masked(token: str, path: str) -> None:
    line = access_line(path.format(t=token))
    assert token not in line and token.split(".")[1] not in line and "[redacted]" in line


def test_a_malformed_link_is_masked_too() -> None:
    assert access_line("/handoff?link=not-a-token%20at-all") == \
        '127.0.0.1:50000 - "GET /handoff?link=[redacted] HTTP/1.1" 200'


def test_a_token_in_a_structlog_event_is_masked(token: str) -> None:
    event = redact_secrets(None, "info", {"event": "x", "url": f"https://baton/handoff?link={token}",
                                          "note": f"got {token}", "page_token": token})
    assert token not in str(event) and event["page_token"] == "[redacted]"


def test_other_query_parameters_stay() -> None:
    assert "/handoff?linkage=3&record=00Q" in access_line("/handoff?linkage=3&record=00Q")
