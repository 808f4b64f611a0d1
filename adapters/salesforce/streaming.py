"""A small Bayeux (CometD) long-polling client for Salesforce's Streaming API.

Handshake, subscribe with the ``replay`` extension, then ``/meta/connect`` long polls that return the
events. The client follows the server's ``advice`` (``interval``, ``timeout``, ``reconnect``) and, on
``403::Unknown client`` or ``reconnect: handshake``, handshakes again and re-subscribes from the last
replay id it handed to its caller. The caller processes each batch of events before the next
``connect()``, so "handed over" means "processed".
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import structlog

from kernel.errors import ConfigError, ReplayIdInvalid, SessionInvalid, TransientError

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

log = structlog.get_logger(__name__)

API_VERSION = "61.0"
REPLAY_NEW = -1  # only events published after the subscription
REPLAY_ALL = -2  # every event still retained (72 hours)
BAYEUX_VERSION = "1.0"
LONG_POLLING = "long-polling"
REQUEST_TIMEOUT_S = 30.0
LONG_POLL_MARGIN_S = 15.0  # read timeout of a connect = the server's advised timeout plus this
DEFAULT_ADVICE_TIMEOUT_MS = 110_000
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})
CHANNEL_SETTING = "BATON_SALESFORCE_CHANNELS"
_INVALID_REPLAY = re.compile(r"replay\s*id.*invalid", re.IGNORECASE)


@dataclass(frozen=True)
class StreamingSession:
    """Where and as whom to connect: the instance URL and an OAuth access token (session id)."""

    instance_url: str
    session_id: str


@dataclass(frozen=True)
class Advice:
    reconnect: str = "retry"  # retry | handshake | none
    interval_ms: int = 0
    timeout_ms: int = DEFAULT_ADVICE_TIMEOUT_MS


@dataclass(frozen=True)
class StreamEvent:
    """One event message: its channel, the ``data`` envelope (schema, payload, event) and replay id."""

    channel: str
    data: dict[str, Any]
    replay_id: int | None


def parse_advice(raw: Any, previous: Advice) -> Advice:
    """The server's advice merged over what it advised before (every field is optional)."""
    if not isinstance(raw, dict):
        return previous
    return Advice(
        reconnect=str(raw.get("reconnect", previous.reconnect)),
        interval_ms=int(raw.get("interval", previous.interval_ms)),
        timeout_ms=int(raw.get("timeout", previous.timeout_ms)),
    )


def error_code(error: str | None) -> int | None:
    """``"403::Unknown client"`` -> 403; Bayeux errors are ``code:args:message``."""
    head = (error or "").split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None


def replay_id_of(data: Any) -> int | None:
    event = data.get("event") if isinstance(data, dict) else None
    value = event.get("replayId") if isinstance(event, dict) else None
    return value if isinstance(value, int) else None


def _subscribe_failure(channel: str, replay_id: int, error: str) -> Exception:
    """Why a subscription was refused, as the error the caller can act on."""
    code = error_code(error)
    if code == 401:
        return SessionInvalid(f"subscribe to {channel}: {error}")
    if code == 400 and _INVALID_REPLAY.search(error):
        return ReplayIdInvalid(channel, replay_id, error)
    if code == 403 and "unknown client" in error.lower():
        return TransientError(f"subscribe to {channel}: {error}")
    if code is not None and code >= 500:
        return TransientError(f"subscribe to {channel}: {error}")
    return ConfigError([(CHANNEL_SETTING, f"{channel}: subscription refused: {error}")])


class BayeuxClient:
    """One Bayeux client (one ``clientId``) on ``{instance_url}/cometd/{version}``; not thread-safe."""

    def __init__(
        self,
        session: StreamingSession,
        http: requests.Session | None = None,
        api_version: str = API_VERSION,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = f"{session.instance_url.rstrip('/')}/cometd/{api_version}"
        self._token = session.session_id
        self._http = http or requests.Session()
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._client_id: str | None = None
        self._advice = Advice()
        self._replay_from: dict[str, int] = {}

    @property
    def client_id(self) -> str | None:
        return self._client_id

    @property
    def advice(self) -> Advice:
        return self._advice

    # protocol ----------------------------------------------------------------------------------
    def handshake(self) -> str:
        reply = self._meta({
            "channel": "/meta/handshake", "version": BAYEUX_VERSION, "minimumVersion": BAYEUX_VERSION,
            "supportedConnectionTypes": [LONG_POLLING], "ext": {"replay": True},
        })
        self._advice = parse_advice(reply.get("advice"), self._advice)
        if not reply.get("successful"):
            reason = ((reply.get("ext") or {}).get("sfdc") or {}).get("failureReason") or reply.get("error")
            if error_code(reason) == 401:
                raise SessionInvalid(f"handshake refused: {reason}")
            raise TransientError(f"handshake refused: {reason}")
        self._client_id = str(reply["clientId"])
        log.info("bayeux_handshake", url=self.url, client_id=self._client_id)
        return self._client_id

    def subscribe(self, channel: str, replay_id: int = REPLAY_NEW) -> None:
        """Subscribes from ``replay_id`` (-1 new events only, -2 all retained, N the events after N)."""
        if self._client_id is None:
            self.handshake()
        reply = self._meta({
            "channel": "/meta/subscribe", "clientId": self._client_id, "subscription": channel,
            "ext": {"replay": {channel: replay_id}},
        })
        if not reply.get("successful"):
            failure = _subscribe_failure(channel, replay_id, str(reply.get("error")))
            if isinstance(failure, TransientError):
                self._client_id = None
            raise failure
        self._replay_from[channel] = replay_id
        log.info("bayeux_subscribed", channel=channel, replay_id=replay_id)

    def connect(self) -> list[StreamEvent]:
        """One long poll; returns the events it brought (possibly none).

        Re-handshakes (and re-subscribes) first when the server asked for it. Raises SessionInvalid
        when the session must be renewed, TransientError for network trouble and 5xx.
        """
        if self._client_id is None:
            self._rehandshake()
        if self._advice.interval_ms > 0:
            self._sleep(self._advice.interval_ms / 1000)
        timeout_s = self._advice.timeout_ms / 1000 + LONG_POLL_MARGIN_S
        messages = self._send([{"channel": "/meta/connect", "clientId": self._client_id,
                                "connectionType": LONG_POLLING, "id": str(next(self._ids))}], timeout_s)
        events = list(self._events(messages))
        meta = next((m for m in messages if m.get("channel") == "/meta/connect"), None)
        if meta is not None:
            self._after_connect(meta)
        for event in events:
            if event.replay_id is not None:
                self._replay_from[event.channel] = event.replay_id
        return events

    def disconnect(self) -> None:
        """Tells the server this client is gone; best effort."""
        if self._client_id is None:
            return
        try:
            self._send([{"channel": "/meta/disconnect", "clientId": self._client_id, "id": str(next(self._ids))}],
                       REQUEST_TIMEOUT_S)
        except (TransientError, SessionInvalid, ConfigError):
            pass
        self._client_id = None

    # helpers -----------------------------------------------------------------------------------
    def _rehandshake(self) -> None:
        self.handshake()
        for channel, replay_id in list(self._replay_from.items()):
            self.subscribe(channel, replay_id)

    def _after_connect(self, meta: dict[str, Any]) -> None:
        self._advice = parse_advice(meta.get("advice"), self._advice)
        if meta.get("successful"):
            return
        error = str(meta.get("error"))
        if error_code(error) == 401:
            raise SessionInvalid(f"connect refused: {error}")
        if self._advice.reconnect == "none":
            raise TransientError(f"connect refused, server advises not to reconnect: {error}")
        if self._advice.reconnect == "handshake" or error_code(error) == 403:
            log.info("bayeux_rehandshake", reason=error)
            self._client_id = None
            self._advice = Advice(timeout_ms=self._advice.timeout_ms)

    def _events(self, messages: Iterable[dict[str, Any]]) -> Iterable[StreamEvent]:
        for message in messages:
            channel = message.get("channel")
            if isinstance(channel, str) and not channel.startswith("/meta/") and "data" in message:
                yield StreamEvent(channel, message["data"], replay_id_of(message["data"]))

    def _meta(self, message: dict[str, Any]) -> dict[str, Any]:
        """Sends one meta message; returns the server's reply on the same channel."""
        message = {**message, "id": str(next(self._ids))}
        replies = self._send([message], REQUEST_TIMEOUT_S)
        for reply in replies:
            if reply.get("channel") == message["channel"]:
                return reply
        raise TransientError(f"no {message['channel']} reply from {self.url}")

    def _send(self, messages: list[dict[str, Any]], timeout_s: float) -> list[dict[str, Any]]:
        try:
            response = self._http.post(
                self.url, json=messages, timeout=(REQUEST_TIMEOUT_S, timeout_s),
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except requests.RequestException as exc:
            raise TransientError(f"Streaming API at {self.url} unreachable: {exc}") from exc
        if response.status_code == 401:
            raise SessionInvalid(f"Streaming API answered 401: {response.text[:200]}")
        if response.status_code in TRANSIENT_HTTP:
            raise TransientError(f"Streaming API answered {response.status_code}")
        if response.status_code != 200:
            raise ConfigError([("BATON_SALESFORCE_LOGIN_URL",
                                f"Streaming API at {self.url} answered {response.status_code}: {response.text[:200]}")])
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(f"Streaming API answered non-JSON: {response.text[:200]!r}") from exc
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise TransientError(f"Streaming API answered an unexpected shape: {str(body)[:200]}")
        return body


def client_for(salesforce: Salesforce) -> BayeuxClient:
    """A client on simple-salesforce's instance and session, with its own cookies (Salesforce pins a
    Bayeux client to one server by cookie) and the same TLS settings."""
    http = requests.Session()
    http.verify = salesforce.session.verify
    http.trust_env = salesforce.session.trust_env
    return BayeuxClient(StreamingSession(f"https://{salesforce.sf_instance}", salesforce.session_id), http)
