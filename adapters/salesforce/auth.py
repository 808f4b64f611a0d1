"""Salesforce sessions from the OAuth 2.0 client-credentials flow, at a configurable login URL."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from simple_salesforce import Salesforce

from baton.errors import ConfigError, TransientError

API_VERSION = "61.0"
TOKEN_TIMEOUT_S = 30


@dataclass(frozen=True)
class ClientCredentials:
    login_url: str
    client_id: str
    client_secret: str


def connect(credentials: ClientCredentials, session: requests.Session | None = None) -> Salesforce:
    """Exchanges the connected app's client id and secret for a session; errors say which part failed."""
    http = session or requests.Session()
    try:
        response = http.post(
            credentials.login_url.rstrip("/") + "/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": credentials.client_id,
                  "client_secret": credentials.client_secret},
            timeout=TOKEN_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise TransientError(f"Salesforce login at {credentials.login_url} failed: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Salesforce login answered {response.status_code}")
    body = response.json() if response.content else {}
    if response.status_code != 200 or "access_token" not in body:
        raise ConfigError([("BATON_SALESFORCE_CLIENT_ID", f"login refused: {body.get('error_description') or body}")])
    return Salesforce(instance_url=body["instance_url"], session_id=body["access_token"], version=API_VERSION,
                      session=http)
