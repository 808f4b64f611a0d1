"""What the handoff page's tests add to the demo's world (``entrypoints.demo.handoff``): Canvas signed requests,
signed links for a test's app, the page's secrets and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baton.runtime import Runtime
from entrypoints.demo.handoff import CONSUMER_SECRET, LEAD_ID, SCHEDULER, handoff_config
from entrypoints.http.canvas import sign_request
from entrypoints.http.page_tokens import PageClaims
from entrypoints.http.page_tokens import link_url as signed_link

PAGE_SECRET = "page-token-secret-for-tests"
ORG_ID = "00D000000000062EAA"
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday, 08:00 in London


def canvas_request(user_id: str = SCHEDULER, record_id: str = LEAD_ID, issued_at: datetime | None = NOW,
                   time_zone: str = "Europe/London", full_name: str = "Sam Scheduler",
                   organization_id: str = ORG_ID) -> dict[str, Any]:
    """A CanvasRequest as Salesforce signs it for a canvas app on a Lead's page layout."""
    return {
        "algorithm": "HMACSHA256",
        "issuedAt": int(issued_at.timestamp() * 1000) if issued_at else None,
        "userId": user_id,
        "client": {"instanceId": "_:baton_handoff:j_id0:j_id1:canvasapp", "oauthToken": "00Dfake!token",
                   "instanceUrl": "https://example.my.salesforce.com", "targetOrigin": "https://example.my.salesforce.com"},
        "context": {
            "application": {"name": "Baton Handoff", "developerName": "Baton_Handoff", "authType": "SIGNED_REQUEST",
                            "canvasUrl": "https://baton.example.com/handoff/canvas", "namespace": "", "version": "1.0"},
            "user": {"userId": user_id, "userName": "sam@example.com", "fullName": full_name, "email": "sam@example.com",
                     "timeZone": time_zone, "locale": "en_GB", "language": "en_US", "userType": "STANDARD"},
            "environment": {"displayLocation": "PageLayout", "locationUrl": "https://example.my.salesforce.com/"
                            f"lightning/r/Lead/{record_id}/view", "parameters": {},
                            "record": {"attributes": {"type": "Lead", "url": f"/services/data/v61.0/sobjects/Lead/{record_id}"},
                                       "Id": record_id}},
            "organization": {"organizationId": organization_id, "name": "Example", "currencyIsoCode": "GBP"},
            "links": {"restUrl": "/services/data/v61.0/", "queryUrl": "/services/data/v61.0/query/"},
        },
    }


def signed(secret: str = CONSUMER_SECRET, **options: Any) -> str:
    return sign_request(canvas_request(**options), secret)


def link_url(app: Runtime, base_url: str, scheduler_id: str = SCHEDULER, name: str = "Sam Scheduler",
             time_zone: str = "Europe/London", record_id: str = LEAD_ID) -> str:
    """A signed link to the page for ``app`` (its settings and clock) on ``base_url``."""
    claims = PageClaims(scheduler_id=scheduler_id, scheduler_name=name, object_type="Lead", record_id=record_id,
                        time_zone=time_zone)
    settings = app.settings.model_copy(update={"public_url": base_url or "http://testserver"})
    return signed_link(claims, settings, app.ports.clock())


def page_settings() -> dict[str, Any]:
    return {"page_token_secret": PAGE_SECRET, "canvas_consumer_secret": CONSUMER_SECRET,
            "salesforce_org_ids": ORG_ID, "salesforce_my_domain": "example"}


def install_handoff(app: Runtime, store: Any, calendar: Any, events: Any = None, lead_suggestions: str = "") -> None:
    """``app`` with the handoff org config, the page's secrets and a fixed clock (``NOW``)."""
    from tests.support.booking import install_booking_ports

    install_booking_ports(app, store, calendar, events, mode="manual", **page_settings())
    from baton.configs import apply_config

    apply_config(store.administration, handoff_config(lead_suggestions=lead_suggestions), NOW)


def page_token(page_html: str) -> str:
    return page_html.split('name="baton-page-token" content="')[1].split('"')[0]
