"""The two ways out: an email over SMTP (smtplib) and a Slack incoming webhook (requests).

Failures are typed for the notify actor: a network error, a timeout, a 4xx-temporary SMTP answer,
429 or 5xx is a ``TransientError`` (retried with backoff); a refused recipient or sender, or a
webhook answering another 4xx, is a ``PermanentError`` (dead-lettered, listed by ``baton dlq``).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import requests

from baton.errors import PermanentError, TransientError

TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str


@dataclass(frozen=True)
class SmtpChannel:
    host: str
    port: int
    sender: str
    tls: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    tls_context: ssl.SSLContext | None = None

    def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, email.to, email.subject
        message.set_content(email.text)
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PermanentError(f"SMTP refused the message to {email.to}: {exc}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused for {self.username}: {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            kind = TransientError if 400 <= exc.smtp_code < 500 else PermanentError
            raise kind(f"SMTP {self.host}:{self.port} answered {exc.smtp_code}: {exc.smtp_error!r}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP {self.host}:{self.port} unreachable: {exc}") from None

    def _connect(self) -> smtplib.SMTP:
        context = self.tls_context or ssl.create_default_context()
        if self.tls == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        if self.tls == "starttls":
            client.starttls(context=context)
        return client


@dataclass(frozen=True)
class SlackWebhook:
    url: str
    timeout_s: float = 10.0

    def post(self, text: str) -> None:
        try:
            response = requests.post(self.url, json={"text": text}, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"Slack webhook unreachable: {type(exc).__name__}") from None
        if response.status_code in TRANSIENT_HTTP or response.status_code >= 500:
            raise TransientError(f"Slack webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"Slack webhook refused the message: {response.status_code} {response.text[:200]}")
