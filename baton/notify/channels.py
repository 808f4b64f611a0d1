"""The ways out, one ``ChannelSpec`` each in ``CHANNELS``: an email over SMTP (smtplib) and a Slack
incoming webhook (requests). A new channel is its sender (a class with ``deliver``), its entry here and
its name in ``messages.notifications.Channel``.

Failures are typed for the notify actor: a network error, a timeout, a 4xx-temporary SMTP answer,
429 or 5xx is a ``TransientError`` (retried with backoff); a refused recipient or sender, or a
webhook answering another 4xx, is a ``PermanentError`` (dead-lettered, listed by ``baton dlq``).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

import requests

from baton.notify.templates import Template, render
from baton.settings import Settings
from kernel.errors import PermanentError, TransientError
from messages.notifications import Channel, Notification

TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


class Directory(Protocol):
    """Names and email addresses of Salesforce users (config members, then the synced users)."""

    def email(self, user_id: str) -> str | None: ...

    def name(self, user_id: str) -> str | None: ...


class Sender(Protocol):
    """One channel's way out. ``deliver`` returns None once sent, else why the notification was skipped;
    failures raise ``TransientError`` or ``PermanentError``."""

    def deliver(
        self, notification: Notification, template: Template, values: dict[str, str], directory: Directory
    ) -> str | None: ...


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

    def deliver(
        self, notification: Notification, template: Template, values: dict[str, str], directory: Directory
    ) -> str | None:
        address = directory.email(notification.recipient_id)
        if not address:
            return f"no email address known for user {notification.recipient_id}"
        self.send(Email(address, render(template.subject, values), render(template.text, values)))
        return None

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

    def deliver(
        self, notification: Notification, template: Template, values: dict[str, str], directory: Directory
    ) -> str | None:
        self.post(render(template.slack, values))
        return None

    def post(self, text: str) -> None:
        try:
            response = requests.post(self.url, json={"text": text}, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"Slack webhook unreachable: {type(exc).__name__}") from None
        if response.status_code in TRANSIENT_HTTP or response.status_code >= 500:
            raise TransientError(f"Slack webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"Slack webhook refused the message: {response.status_code} {response.text[:200]}")


@dataclass(frozen=True)
class ChannelSpec:
    """A channel: its name on notifications, its sender when the settings configure one, and what a
    notification on it says when they do not."""

    name: Channel
    sender: Callable[[Settings], Sender | None]
    not_configured: str


def _smtp(settings: Settings) -> SmtpChannel | None:
    if not settings.notify_smtp_host:
        return None
    return SmtpChannel(settings.notify_smtp_host, settings.notify_smtp_port, settings.notify_email_from,
                       settings.notify_smtp_tls, settings.notify_smtp_username, settings.notify_smtp_password,
                       settings.notify_timeout_s)


def _slack(settings: Settings) -> SlackWebhook | None:
    if not settings.notify_slack_webhook_url:
        return None
    return SlackWebhook(settings.notify_slack_webhook_url, settings.notify_timeout_s)


CHANNELS: dict[Channel, ChannelSpec] = {
    spec.name: spec
    for spec in (
        ChannelSpec("email", _smtp, "SMTP not configured"),
        ChannelSpec("slack", _slack, "Slack webhook not configured"),
    )
}


def configured_senders(settings: Settings) -> dict[Channel, Sender]:
    """The sender of every channel the settings configure, in ``CHANNELS`` order."""
    senders = {name: spec.sender(settings) for name, spec in CHANNELS.items()}
    return {name: sender for name, sender in senders.items() if sender is not None}
