"""Real worker processes on RabbitMQ and PostgreSQL tell a new owner by email and Slack (notify queue)."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import Cluster
from tests.support.events import lead_event
from tests.support.fake_notifications import smtp_server, webhook_server

pytestmark = pytest.mark.integration
OWNER = "005000000000001AAA"
CONFIG = f"""
teams:
  - name: Inbound
    members:
      - {{id: "{OWNER}", name: "Ada Lovelace", email: ada@example.com}}
default_team: Inbound
"""
WAIT_S = 60


def test_worker_processes_deliver_owner_notifications_through_the_notify_queue(cluster: Cluster) -> None:
    cluster.apply(CONFIG)
    with smtp_server() as (mailbox, port), webhook_server() as (hook, url):
        cluster.env.update(BATON_NOTIFY_SMTP_HOST="127.0.0.1", BATON_NOTIFY_SMTP_PORT=str(port),
                           BATON_NOTIFY_SMTP_TLS="none", BATON_NOTIFY_SLACK_WEBHOOK_URL=url)
        cluster.start_worker(threads=2)
        cluster.producer.publish([lead_event(1)], batch_size=1)
        deadline = time.monotonic() + WAIT_S
        while (not mailbox.messages or not hook.posts) and time.monotonic() < deadline:
            time.sleep(0.1)

        assert mailbox.recipients == [["ada@example.com"]], cluster.worker_logs()
        assert [post["text"] for post in hook.posts] == [
            "Ada Lovelace: Lead 00Q000000000001AAA is yours (team Inbound, round_robin)"]
    assert cluster.store.decisions.owner_counts() == {OWNER: 1}
