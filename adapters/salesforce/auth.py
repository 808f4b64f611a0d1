"""Salesforce sessions from the connected app's OAuth 2.0 flows, at a configurable login URL.

Three flows, by what is configured: JWT bearer (a certificate's private key and a username: the usual
choice for an integration user), username-password, and client credentials. Each posts a form to
``{login_url}/services/oauth2/token``; simple-salesforce hard-codes its login host, so Baton does this
exchange itself and hands simple-salesforce the session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce import Salesforce

from adapters.call_metrics import record_salesforce_call
from adapters.salesforce.session import DEFAULT_TIMEOUT_S, http_session
from kernel.errors import ConfigError, TransientError

API_VERSION = "61.0"
JWT_LIFETIME_S = 180
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class ClientCredentials:
    login_url: str
    client_id: str
    client_secret: str
    setting = "BATON_SALESFORCE_CLIENT_ID"

    def token_form(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}


@dataclass(frozen=True)
class UsernamePassword:
    login_url: str
    client_id: str
    client_secret: str
    username: str
    password: str
    setting = "BATON_SALESFORCE_USERNAME"

    def token_form(self) -> dict[str, str]:
        return {"grant_type": "password", "client_id": self.client_id, "client_secret": self.client_secret,
                "username": self.username, "password": self.password}


@dataclass(frozen=True)
class JwtBearer:
    login_url: str
    client_id: str
    username: str
    private_key_pem: str
    audience: str
    setting = "BATON_SALESFORCE_PRIVATE_KEY_FILE"

    def token_form(self) -> dict[str, str]:
        claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience,
                  "exp": int(time.time()) + JWT_LIFETIME_S}
        try:
            assertion = jwt.encode(claims, self.private_key_pem, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError([(self.setting, f"cannot sign the JWT with this key: {exc}")]) from None
        return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}


Credentials = ClientCredentials | UsernamePassword | JwtBearer


def connect(credentials: Credentials, session: requests.Session | None = None,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> Salesforce:
    """Exchanges the credentials for a session; errors say which part failed. Every call on the session
    (the login too) ends after ``timeout_s`` without an answer, unless ``session`` is given (the caller's)."""
    http = session or http_session(timeout_s)
    try:
        response = http.post(credentials.login_url.rstrip("/") + "/services/oauth2/token",
                             data=credentials.token_form(), timeout=timeout_s)
    except requests.RequestException as exc:
        raise TransientError(f"Salesforce login at {credentials.login_url} failed: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Salesforce login answered {response.status_code}")
    body = response.json() if response.content else {}
    if response.status_code != 200 or "access_token" not in body:
        raise ConfigError([(credentials.setting, f"login refused: {body.get('error_description') or body}")])
    if count_api_call not in http.hooks["response"]:
        http.hooks["response"].append(count_api_call)
    return Salesforce(instance_url=body["instance_url"], session_id=body["access_token"], version=API_VERSION,
                      session=http)


def count_api_call(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: every API call on a logged-in session counts in
    ``baton_salesforce_api_calls``; OAuth token exchanges (a login again on the same session) do not."""
    parts = urlsplit(response.url).path.split("/")
    if len(parts) > 2 and parts[2] == "oauth2":
        return
    resource = "other"
    if len(parts) > 4 and parts[1] == "services" and parts[2] in ("data", "async"):
        resource = parts[4] or "other"
    record_salesforce_call(resource, response.status_code)
