"""The web process (uvicorn, as in the Procfile) takes an outbound message on RabbitMQ + PostgreSQL: the Ack
comes once the notifications are on the classify queue, and neither the SessionId nor the path token reaches
the process's logs (its own JSON lines or uvicorn's access log)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
import requests

from tests.support.fake_notifications import free_port
from tests.support.outbound import ORG, SESSION, XML, envelope, notification
from tests.support.services import delete_queues, unique_prefix, worker_env

pytestmark = pytest.mark.integration
TOKEN = "path-token-9f3a7c1e5b"
START_TIMEOUT_S = 60


@dataclass
class Web:
    url: str
    prefix: str
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stops the process and returns everything it wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        return self.log.read_text()


def classify_depth(rabbitmq_url: str, prefix: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        declared = connection.channel().queue_declare(f"{prefix}.classify", passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


@pytest.fixture
def web(rabbitmq_url: str, postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[Web]:
    prefix, port = unique_prefix(), free_port()
    env = worker_env(rabbitmq_url, postgres_url, pg_schema, prefix, BATON_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
                     BATON_OUTBOUND_TOKEN=TOKEN, BATON_SALESFORCE_ORG_IDS=ORG)
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "entrypoints.http.app:create_app_from_env",
             "--no-proxy-headers",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    server = Web(f"http://127.0.0.1:{port}", prefix, log, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while "Uvicorn running on" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    try:
        yield server
    finally:
        server.stop()
        delete_queues(rabbitmq_url, prefix)


def test_an_outbound_message_is_acked_once_on_the_queue_and_no_secret_is_logged(
    web: Web, rabbitmq_url: str
) -> None:
    url = f"{web.url}/salesforce/outbound/{TOKEN}"
    accepted = requests.post(url, data=envelope("\n".join(notification(n) for n in (1, 2, 3))), headers=XML,
                             timeout=30)
    refused = requests.post(url, data=envelope(notification(4), org="00D000000000999AAA"), headers=XML, timeout=30)

    assert accepted.status_code == 200 and "<Ack>true</Ack>" in accepted.text
    assert refused.status_code == 403 and "<Ack>" not in refused.text
    assert classify_depth(rabbitmq_url, web.prefix) == 1  # one message for the envelope's three notifications
    output = web.stop()
    assert '"event": "outbound_accepted"' in output and '"event": "outbound_rejected"' in output
    assert "/salesforce/outbound/[redacted]" in output  # uvicorn's access log line, masked
    assert SESSION not in output and SESSION.split("!")[1] not in output
    assert TOKEN not in output
