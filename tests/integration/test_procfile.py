"""The Procfile under honcho: every process type starts on RabbitMQ and PostgreSQL.

``listen`` and ``sync`` log in to a fake Salesforce org on 127.0.0.1 (HTTPS, its own CA) through the
connected app, as deployed; the others would work without one. A process has started when it is serving
(web), ready (worker) or holds its leader lock (scheduler, flusher, listen, sync); the sync's queries fail
against this fake (it serves the streaming API), and the sync keeps running, as it would in production.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import cdc_samples as cdc
from tests.support.fake_cometd import fake_streaming_org
from tests.support.fake_notifications import free_port
from tests.support.services import delete_queues, unique_prefix, worker_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STARTED = {
    "web": lambda line: "Uvicorn running on" in line,
    "worker": lambda line: "Worker process is ready" in line,
    "scheduler": lambda line: _event(line) == ("leader_elected", "scheduler"),
    "flusher": lambda line: _event(line) == ("leader_elected", "outbox-flusher"),
    "listen": lambda line: _event(line) == ("leader_elected", f"listen:{cdc.LEAD_CHANNEL}"),
    "sync": lambda line: _event(line) == ("leader_elected", "reference-sync"),
}
START_TIMEOUT_S = 90
LINE = re.compile(r"^\S+ (?P<process>[a-z]+)\.\d+\s+\| (?P<text>.*)$")


def _event(text: str) -> tuple[str, str] | None:
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return (entry.get("event"), entry.get("lock")) if isinstance(entry, dict) else None


def local_procfile(path: Path) -> Path:
    """The real Procfile's lines, run with this interpreter (so this checkout's
    code is what starts) and a smaller worker (1 process, 2 threads) to spare the shared machine."""
    lines = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, command = line.split(":", 1)
        if name not in STARTED:
            continue
        command = command.strip().replace("--processes 2 --threads 16", "--processes 1 --threads 2")
        program, rest = command.split(" ", 1)
        lines.append(f"{name}: {sys.executable} -m {program} {rest}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def honcho_env(rabbitmq_url: str, postgres_url: str, pg_schema: str) -> Iterator[dict[str, str]]:
    prefix = unique_prefix()
    with fake_streaming_org() as org:
        org.known_channels.add(cdc.LEAD_CHANNEL)
        yield worker_env(rabbitmq_url, postgres_url, pg_schema, prefix, BATON_LOG_LEVEL="INFO",
                         BATON_HTTP_PORT=str(free_port()), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
                         BATON_SALESFORCE_CHANNELS=cdc.LEAD_CHANNEL, BATON_SALESFORCE_LOGIN_URL=org.url,
                         BATON_SALESFORCE_CLIENT_ID="consumer-key", BATON_SALESFORCE_CLIENT_SECRET=org.client_secret,
                         REQUESTS_CA_BUNDLE=org.ca_file, NO_PROXY="127.0.0.1")
    delete_queues(rabbitmq_url, prefix)


def test_every_process_type_starts_from_the_procfile(honcho_env: dict[str, str],
                                                                 tmp_path: Path) -> None:
    procfile = local_procfile(tmp_path / "Procfile")
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(ROOT), "start", *STARTED],
        env=honcho_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    started: set[str] = set()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert honcho.stdout is not None
        while started != set(STARTED) and time.monotonic() < deadline:
            line = honcho.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip())
            match = LINE.match(line.rstrip())
            if match and match["process"] in STARTED and STARTED[match["process"]](match["text"]):
                started.add(match["process"])
        assert started == set(STARTED), "\n".join(seen[-40:])
        answer = requests.get(f"http://127.0.0.1:{honcho_env['BATON_HTTP_PORT']}/healthz", timeout=5)
        assert answer.status_code == 200
        assert honcho.poll() is None, "a process stopped, and honcho with it:\n" + "\n".join(seen[-40:])
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            rest, _ = honcho.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            rest, _ = honcho.communicate()
        seen.extend(rest.splitlines())
        print("\n".join(seen))  # shown by pytest when the test fails
