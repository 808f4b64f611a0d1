"""A local SMTP server (aiosmtpd) and a fake Slack incoming webhook, both on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_server(tls_context: ssl.SSLContext | None = None) -> Iterator[tuple[Mailbox, int]]:
    """Plain SMTP; with ``tls_context`` the server requires STARTTLS before it takes a message."""
    mailbox, port = Mailbox(), free_port()
    tls = {"tls_context": tls_context, "require_starttls": True} if tls_context else {}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Webhook:
    posts: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give first, then 200

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/services/T000/B000/XXXX"


@contextmanager
def webhook_server() -> Iterator[tuple[Webhook, str]]:
    hook = Webhook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.posts.append(json.loads(body))
            answer = b"ok" if status == 200 else b"invalid_payload"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, hook.url(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
