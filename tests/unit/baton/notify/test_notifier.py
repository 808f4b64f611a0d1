"""New owners are told by email and Slack; a failing channel never slows or fails routing."""

from __future__ import annotations

import dataclasses
import ssl
import time
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from baton.chains import NOTIFY
from baton.notify.channels import CHANNELS, Email, SlackWebhook, SmtpChannel, configured_senders
from baton.notify.notifier import Notifier, host_notifications
from baton.notify.templates import DEFAULT_TEMPLATES, load_templates
from baton.notify.wiring import configured_channels, with_notifications
from baton.settings import Settings
from kernel.errors import ConfigError, PermanentError, TransientError
from messages.notifications import Channel, Notification
from tests.support.events import lead_event
from tests.support.fake_notifications import (
    Mailbox,
    Webhook,
    free_port,
    smtp_server,
    webhook_server,
)
from tests.support.pipeline import Pipeline

OWNER = "005000000000001AAA"
CONFIG = f"""
teams:
  - name: Inbound
    members:
      - {{id: "{OWNER}", name: "Ada Lovelace", email: ada@example.com}}
default_team: Inbound
"""


THREE_OWNERS = "teams:\n  - name: Inbound\n    members:\n" + "".join(
    f'      - {{id: "00500000000000{n}AAA", name: "Rep {n}", email: rep{n}@example.com}}\n' for n in range(1, 4)
) + "default_team: Inbound\n"


@dataclasses.dataclass
class Users:
    emails: dict[str, str]

    def email(self, user_id: str) -> str | None:
        return self.emails.get(user_id)

    def name(self, user_id: str) -> str | None:
        return "Ada Lovelace" if user_id in self.emails else None


def assigned(channel: str, recipient: str = OWNER) -> Notification:
    return Notification(notification_id=f"r1:{channel}", kind="assigned", channel=channel,  # type: ignore[arg-type]
                        recipient_id=recipient,
                        values={"object_type": "Lead", "record_id": "00Q000000000001AAA", "team": "Inbound",
                                "method": "round_robin"})


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[tuple[Webhook, str]]:
    with webhook_server() as server:
        yield server


def test_an_email_reaches_the_owner_with_the_rendered_template(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = Notifier(DEFAULT_TEMPLATES, Users({OWNER: "ada@example.com"}),
                        senders={"email": SmtpChannel("127.0.0.1", port, "baton@example.com", tls="none")})

    assert notifier.deliver(assigned("email")) == "sent"

    [message] = mailbox.messages
    assert mailbox.recipients == [["ada@example.com"]]
    assert message["Subject"] == "Lead 00Q000000000001AAA is yours"
    assert message["From"] == "baton@example.com"
    assert "Hello Ada Lovelace" in message.get_payload()
    assert "team Inbound, round_robin" in message.get_payload()


def test_starttls_upgrades_the_connection_before_the_message_goes_out() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    with smtp_server(tls_context=server_context) as (mailbox, port):
        with pytest.raises(PermanentError, match="530"):  # the server refuses a plain-text message
            SmtpChannel("127.0.0.1", port, "b@example.com", tls="none").send(Email("ada@example.com", "s", "t"))
        SmtpChannel("127.0.0.1", port, "b@example.com", tls="starttls",
                    tls_context=client_context).send(Email("ada@example.com", "s", "t"))
    assert mailbox.recipients == [["ada@example.com"]]


def test_a_slack_message_is_posted_as_json_to_the_webhook(webhook: tuple[Webhook, str]) -> None:
    hook, url = webhook
    notifier = Notifier(DEFAULT_TEMPLATES, Users({}), senders={"slack": SlackWebhook(url)})

    notifier.deliver(assigned("slack", recipient="005000000000009AAA"))

    assert hook.posts == [{"text": "005000000000009AAA: Lead 00Q000000000001AAA is yours (team Inbound, round_robin)"}]


def test_a_booking_host_is_told_with_the_booking_template(webhook: tuple[Webhook, str]) -> None:
    hook, url = webhook
    notifier = Notifier(DEFAULT_TEMPLATES, Users({OWNER: "ada@example.com"}), senders={"slack": SlackWebhook(url)})
    start = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    [notification] = host_notifications("bk-1", OWNER, "Hand-over: Acme", start, start + timedelta(minutes=30),
                                        ["slack"])

    notifier.deliver(notification)

    assert hook.posts == [{"text": "Ada Lovelace: meeting booked, Hand-over: Acme, 2026-11-24T14:00:00+00:00 to "
                                   "2026-11-24T14:30:00+00:00"}]


def test_webhook_answers_are_typed_for_retry_or_dead_letter(webhook: tuple[Webhook, str]) -> None:
    hook, url = webhook
    hook.statuses = [503, 429, 404]
    channel = SlackWebhook(url)

    with pytest.raises(TransientError):
        channel.post("x")
    with pytest.raises(TransientError):
        channel.post("x")
    with pytest.raises(PermanentError, match="404 invalid_payload"):
        channel.post("x")


def test_an_unreachable_mail_server_is_a_transient_error() -> None:
    channel = SmtpChannel("127.0.0.1", free_port(), "baton@example.com", tls="none", timeout_s=2)
    with pytest.raises(TransientError, match="unreachable"):
        channel.send(Email("ada@example.com", "s", "t"))


def test_a_user_without_an_email_address_is_skipped_and_said_so(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = Notifier(DEFAULT_TEMPLATES, Users({}),
                        senders={"email": SmtpChannel("127.0.0.1", port, "b@example.com", tls="none")})

    assert notifier.deliver(assigned("email")) == f"skipped: no email address known for user {OWNER}"
    assert mailbox.messages == []


def test_a_channel_the_settings_leave_out_is_skipped_with_its_own_reason() -> None:
    notifier = Notifier(DEFAULT_TEMPLATES, Users({OWNER: "ada@example.com"}))

    assert notifier.channels == []
    assert notifier.deliver(assigned("email")) == "skipped: SMTP not configured"
    assert notifier.deliver(assigned("slack")) == "skipped: Slack webhook not configured"


def test_configured_channels_follow_the_channel_registry() -> None:
    assert set(CHANNELS) == set(typing.get_args(Channel))
    assert configured_channels(Settings(_env_file=None)) == []
    both = Settings(_env_file=None, notify_smtp_host="smtp.example.com",
                    notify_slack_webhook_url="https://hooks.example.com/x")
    assert configured_channels(both) == ["email", "slack"]
    senders = configured_senders(both)
    assert isinstance(senders["email"], SmtpChannel) and senders["email"].host == "smtp.example.com"
    assert isinstance(senders["slack"], SlackWebhook)
    slack_only = Settings(_env_file=None, notify_slack_webhook_url="https://hooks.example.com/x")
    assert configured_channels(slack_only) == ["slack"]


def test_templates_are_overridden_from_yaml_and_bad_files_name_what_is_wrong(tmp_path: Path) -> None:
    good = tmp_path / "templates.yaml"
    good.write_text("assigned:\n  subject: 'New {object_type} for you'\n")
    assert load_templates(good)["assigned"].subject == "New {object_type} for you"
    assert load_templates(good)["assigned"].text == DEFAULT_TEMPLATES["assigned"].text

    bad = tmp_path / "bad.yaml"
    bad.write_text("asigned:\n  subject: x\nbooking:\n  body: y\n")
    with pytest.raises(ConfigError) as error:
        load_templates(bad)
    assert [path.split(": ")[-1] for path, _ in error.value.problems] == ["asigned", "booking"]


def _with_notifications(pipeline: Pipeline, **settings: object) -> None:
    current = pipeline.app
    configured = current.settings.model_copy(update=settings)
    ports = dataclasses.replace(current.ports, sink=with_notifications(configured, pipeline.sink, pipeline.broker))
    pipeline.app.settings, pipeline.app.ports = configured, ports


def _drain_with_notifications(pipeline: Pipeline) -> None:
    pipeline.drain()
    pipeline.broker.join(pipeline.broker.get_actor(NOTIFY.name).queue_name, timeout=30_000, fail_fast=False)


def test_routed_records_tell_each_new_owner_once_by_email_and_slack(
    pipeline: Pipeline, smtp: tuple[Mailbox, int], webhook: tuple[Webhook, str]
) -> None:
    """Three decisions travel as one notify message; the actor splits it, so the webhook's one failure is
    retried alone and no email goes out twice."""
    (mailbox, port), (hook, url) = smtp, webhook
    hook.statuses = [503]
    _with_notifications(pipeline, notify_smtp_host="127.0.0.1", notify_smtp_port=port, notify_smtp_tls="none",
                        notify_slack_webhook_url=url)
    pipeline.apply(THREE_OWNERS)

    pipeline.send([lead_event(n) for n in range(1, 4)], batch_size=3)
    _drain_with_notifications(pipeline)

    assert sorted(mailbox.recipients) == [["rep1@example.com"], ["rep2@example.com"], ["rep3@example.com"]]
    assert sorted(post["text"] for post in hook.posts) == [
        f"Rep {n}: Lead 00Q00000000000{n}AAA is yours (team Inbound, round_robin)" for n in range(1, 4)
    ]
    assert pipeline.store.administration.dead_letters() == []


def test_a_mail_server_that_is_down_leaves_routing_intact_and_the_notification_dead_lettered(
    pipeline: Pipeline,
) -> None:
    _with_notifications(pipeline, notify_smtp_host="127.0.0.1", notify_smtp_port=free_port(),
                        notify_smtp_tls="none", notify_timeout_s=2)
    pipeline.apply(CONFIG)

    pipeline.send([lead_event(1)])
    _drain_with_notifications(pipeline)

    assert pipeline.store.decisions.owner_counts() == {OWNER: 1}
    assert [log.owner_id for log in pipeline.sink.published] == [OWNER]
    deadline = time.monotonic() + 10  # the worker copies the dead letter just after the queue drained
    while not pipeline.store.administration.dead_letters() and time.monotonic() < deadline:
        time.sleep(0.05)
    [letter] = pipeline.store.administration.dead_letters()
    assert letter.stage == NOTIFY.name
    assert "unreachable" in letter.reason
