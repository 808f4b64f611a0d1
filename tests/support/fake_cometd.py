"""A fake Salesforce Streaming API (Bayeux/CometD long polling) over HTTPS on 127.0.0.1.

It speaks the wire format of ``/cometd/61.0``: handshake, subscribe with the ``replay`` extension
(-1 new, -2 all retained, N after N; ids below the retention floor refused with Salesforce's
``400::The replayId {N} you provided was invalid...``), ``/meta/connect`` long polls that deliver
``{"channel", "data": {"schema", "payload", "event": {"replayId"}}}`` messages, ``403::Unknown client``
with ``reconnect: handshake`` advice, and the ``BAYEUX_BROWSER`` session cookie. For re-reads it also
answers ``sobjects/{object}/describe`` and a minimal ``query`` (``WHERE Id IN (...)`` and
``WHERE SystemModstamp >= ...``), and the OAuth client-credentials token endpoint a login needs.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import trustme
from simple_salesforce import Salesforce

API_VERSION = "61.0"
COMETD_PATH = f"/cometd/{API_VERSION}"
DATA_PATH = f"/services/data/v{API_VERSION}"
COOKIE = "BAYEUX_BROWSER"
CONNECT_ADVICE = {"interval": 0, "timeout": 110000, "reconnect": "retry"}
INVALID_REPLAY = ("400::The replayId {{{}}} you provided was invalid.  Please provide a valid ID, -2 to replay all "
                  "events, or -1 to replay only new events.")


@dataclass
class FakeStreamingOrg:
    """What the fake holds, what it saw, and which faults it injects next."""

    session_id: str = "00Dfake!streaming-session"
    client_secret: str = "fake-streaming-secret"
    known_channels: set[str] = field(default_factory=set)
    retained: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> event messages
    retention_floor: dict[str, int] = field(default_factory=dict)  # replay ids below it have expired
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # object -> REST records
    handshakes: int = 0
    subscriptions: list[tuple[str, int]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    connect_faults: deque[str] = field(default_factory=deque)  # Bayeux errors for the next connects
    http_faults: deque[int] = field(default_factory=deque)  # HTTP statuses for the next /cometd posts
    connect_advice: dict[str, Any] = field(default_factory=lambda: dict(CONNECT_ADVICE))
    poll_s: float = 0.2
    api_calls: int = 0  # REST data calls (query, describe), reported in Sforce-Limit-Info as Salesforce does
    api_limit: int = 15_000
    url: str = ""
    ca_file: str = ""
    _clients: dict[str, dict[str, int]] = field(default_factory=dict)  # client id -> channel -> cursor
    _next_replay: int = 1
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def publish(self, channel: str, payload: dict[str, Any], schema: str = "Jx8Hz9ElkIUaBf-heF1ShA",
                **event: Any) -> int:
        """Puts one event on a channel; returns its replay id (increasing, not contiguous across channels)."""
        with self._changed:
            replay_id = self._next_replay
            self._next_replay += 1
            self.known_channels.add(channel)
            data = {"schema": schema, "payload": payload, "event": {**event, "replayId": replay_id}}
            self.retained.setdefault(channel, []).append({"channel": channel, "data": data})
            self._changed.notify_all()
        return replay_id

    def expire_below(self, channel: str, replay_id: int) -> None:
        """Events older than ``replay_id`` left the 72-hour retention window."""
        with self._changed:
            self.retention_floor[channel] = replay_id
            self.retained[channel] = [m for m in self.retained.get(channel, [])
                                      if m["data"]["event"]["replayId"] >= replay_id]

    def forget_clients(self) -> None:
        """The server timed every client out (a connect now answers ``403::Unknown client``)."""
        with self._changed:
            self._clients.clear()

    def client(self) -> Salesforce:
        """A real simple-salesforce client on this fake (a fresh login, as ``connect()`` would give)."""
        session = requests.Session()
        session.trust_env, session.verify = False, self.ca_file
        return Salesforce(instance_url=self.url, session_id=self.session_id, version=API_VERSION, session=session)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake Streaming API never saw what the test waited for")
            time.sleep(0.02)

    # Bayeux ------------------------------------------------------------------------------------
    def _latest(self, channel: str) -> int:
        events = self.retained.get(channel, [])
        return events[-1]["data"]["event"]["replayId"] if events else 0

    def bayeux(self, message: dict[str, Any], authorized: bool, cookie: bool) -> list[dict[str, Any]]:
        channel, client_id = message.get("channel"), message.get("clientId")
        reply: dict[str, Any] = {"channel": channel, "id": message.get("id")}
        if channel == "/meta/handshake":
            if not authorized:
                return [{**reply, "successful": False, "error": "403::Handshake denied", "advice": {"reconnect": "none"},
                         "ext": {"sfdc": {"failureReason": "401::Authentication invalid"}}}]
            client_id = uuid.uuid4().hex
            with self._changed:
                self.handshakes += 1
                self._clients[client_id] = {}
            return [{**reply, "successful": True, "clientId": client_id, "version": "1.0", "minimumVersion": "1.0",
                     "supportedConnectionTypes": ["long-polling"], "ext": {"replay": True, "payload.format": True}}]
        reply["clientId"] = client_id
        if client_id not in self._clients:
            return [{**reply, "successful": False, "error": "403::Unknown client",
                     "advice": {"reconnect": "handshake", "interval": 0}}]
        if not cookie:
            return [{**reply, "successful": False,
                     "error": f"400::Client {client_id} has established a session, but no {COOKIE} cookie present"}]
        if channel == "/meta/subscribe":
            return [self._subscribe(message, reply)]
        if channel == "/meta/connect":
            return self._connect(client_id, reply)  # type: ignore[arg-type]
        if channel == "/meta/disconnect":
            with self._changed:
                self._clients.pop(client_id, None)  # type: ignore[arg-type]
            return [{**reply, "successful": True}]
        return [{**reply, "successful": False, "error": f"400::Unknown channel {channel}"}]

    def _subscribe(self, message: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        channel = message.get("subscription")
        replay_id = int(((message.get("ext") or {}).get("replay") or {}).get(channel, -1))
        reply["subscription"] = channel
        with self._changed:
            self.subscriptions.append((channel, replay_id))
            if channel not in self.known_channels:
                return {**reply, "successful": False,
                        "error": f"400::The channel you requested to subscribe to does not exist {{{channel}}}"}
            if replay_id >= 0 and replay_id < self.retention_floor.get(channel, 0) - 1:
                return {**reply, "successful": False, "error": INVALID_REPLAY.format(replay_id)}
            cursor = {-1: self._latest(channel), -2: 0}.get(replay_id, replay_id)
            self._clients[message["clientId"]][channel] = cursor
        return {**reply, "successful": True}

    def _connect(self, client_id: str, reply: dict[str, Any]) -> list[dict[str, Any]]:
        with self._changed:
            if self.connect_faults:
                error = self.connect_faults.popleft()
                self._clients.pop(client_id, None)
                reconnect = "none" if error.startswith("401") else "handshake"
                return [{**reply, "successful": False, "error": error, "advice": {"reconnect": reconnect, "interval": 0}}]
            self._changed.wait_for(lambda: bool(self._pending(client_id)), timeout=self.poll_s)
            events = self._pending(client_id)
            for event in events:
                self._clients[client_id][event["channel"]] = event["data"]["event"]["replayId"]
        return [*events, {**reply, "successful": True, "advice": self.connect_advice}]

    def _pending(self, client_id: str) -> list[dict[str, Any]]:
        cursors = self._clients.get(client_id, {})
        return [event for channel, cursor in cursors.items() for event in self.retained.get(channel, [])
                if event["data"]["event"]["replayId"] > cursor]

    # REST --------------------------------------------------------------------------------------
    def describe(self, object_type: str) -> dict[str, Any] | None:
        records = self.records.get(object_type)
        if records is None:
            return None
        names = dict.fromkeys(["Id"] + [key for record in records for key in record if key != "attributes"])
        return {"name": object_type, "fields": [{"name": name, "type": "id" if name == "Id" else "string"}
                                                for name in names]}

    def query(self, soql: str) -> dict[str, Any]:
        self.queries.append(soql)
        match = re.match(r"SELECT (?P<fields>.+?) FROM (?P<object>\w+) WHERE (?P<where>.+?)(?: ORDER BY .*)?$", soql)
        if match is None:
            raise ValueError(f"the fake cannot answer {soql!r}")
        fields = [name.strip() for name in match["fields"].split(",")]
        where = match["where"]
        rows = self.records.get(match["object"], [])
        if ids := re.fullmatch(r"Id IN \((.*)\)", where):
            wanted = {part.strip().strip("'")[:15] for part in ids[1].split(",")}
            rows = [row for row in rows if row["Id"][:15] in wanted]
        elif since := re.fullmatch(r"SystemModstamp >= (\S+)", where):
            floor = datetime.fromisoformat(since[1].replace("Z", "+00:00"))
            rows = [row for row in rows if _rest_time(row["SystemModstamp"]) >= floor]
        else:
            raise ValueError(f"the fake cannot filter by {where!r}")
        records = [{"attributes": {"type": match["object"], "url": f"{DATA_PATH}/sobjects/{match['object']}/{row['Id']}"},
                    **{name: row.get(name) for name in fields}} for row in rows]
        return {"totalSize": len(records), "done": True, "records": records}


def _rest_time(text: str) -> datetime:
    """Salesforce REST times look like 2026-11-20T09:00:00.000+0000."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def _handler(org: FakeStreamingOrg) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: object, cookie: str | None = None, counted: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            if counted:
                org.api_calls += 1
                self.send_header("Sforce-Limit-Info", f"api-usage={org.api_calls}/{org.api_limit}")
            self.send_header("Content-Length", str(len(data)))
            if cookie:
                self.send_header("Set-Cookie", f"{COOKIE}={cookie}; Path=/cometd/; Secure")
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") in (f"Bearer {org.session_id}", f"OAuth {org.session_id}")

        def _token(self, form: dict[str, list[str]]) -> None:
            """OAuth 2.0 client credentials, as the login host answers them."""
            if form.get("grant_type") == ["client_credentials"] and form.get("client_secret") == [org.client_secret]:
                self._send(200, {"access_token": org.session_id, "instance_url": org.url, "token_type": "Bearer",
                                 "issued_at": "1763629200000"})
            else:
                self._send(400, {"error": "invalid_client", "error_description": "invalid client credentials"})

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path == "/services/oauth2/token":
                self._token(parse_qs(body.decode()))
                return
            messages = json.loads(body or b"[]")
            if self.path != COMETD_PATH:
                self._send(404, [{"errorCode": "NOT_FOUND", "message": self.path}])
                return
            if org.http_faults:
                self._send(org.http_faults.popleft(), {"error": "injected fault"})
                return
            has_cookie = f"{COOKIE}=" in (self.headers.get("Cookie") or "")
            replies = [reply for message in messages
                       for reply in org.bayeux(message, self._authorized(), has_cookie)]
            handshook = any(r.get("channel") == "/meta/handshake" and r.get("successful") for r in replies)
            self._send(200, replies, cookie=uuid.uuid4().hex if handshook else None)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self._authorized():
                self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
                return
            url = urlsplit(self.path)
            if url.path == f"{DATA_PATH}/query/":
                self._send(200, org.query(parse_qs(url.query)["q"][0]), counted=True)
                return
            described = re.fullmatch(rf"{DATA_PATH}/sobjects/(\w+)/describe", url.path)
            body = org.describe(described[1]) if described else None
            if body is None:
                self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
                return
            self._send(200, body, counted=True)

    return Handler


@contextmanager
def fake_streaming_org() -> Iterator[FakeStreamingOrg]:
    """Starts the fake over HTTPS (its own trustme CA) and stops it afterwards."""
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    org = FakeStreamingOrg()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(org))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with authority.cert_pem.tempfile() as ca_file:
        org.url, org.ca_file = f"https://127.0.0.1:{server.server_port}", ca_file
        try:
            yield org
        finally:
            server.shutdown()
            server.server_close()
