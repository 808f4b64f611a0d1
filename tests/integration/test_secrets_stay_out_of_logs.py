"""A full flow on RabbitMQ and PostgreSQL with real processes (uvicorn web, a dramatiq worker, the outbox
flusher, the CLI) against a fake Salesforce org: an outbound message is routed and its owner written back,
then a meeting is booked through the API. Every line the processes wrote (structlog JSON, uvicorn's access
log, dramatiq's own logging) and every row Baton stored are then searched for the session id, the tokens
and the secrets it handled: none may appear."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from dramatiq.brokers.rabbitmq import dq_name, xq_name

from entrypoints.demo.fake_salesforce import fake_salesforce
from tests.support.booking import booking_config
from tests.support.fake_notifications import free_port
from tests.support.outbound import ORG, SESSION, envelope, notification
from tests.support.services import (
    REPO_ROOT,
    FlusherProcess,
    ServiceProcess,
    WorkerProcess,
    delete_queues,
    unique_prefix,
    worker_env,
)

pytestmark = pytest.mark.integration
OUTBOUND_TOKEN = "path-secret-7Qm2vX9kLr"
METRICS_TOKEN = "metrics-secret-Jw4pZt8sNc"
PAGE_TOKEN_SECRET = "page-secret-Hq3xRb6wTy"
SCHEDULER = "005000000000009AAA"
BOOKING_QUEUES = ("booking_request", "booking_calendar", "booking_event", "booking_owner", "booking_log")
LEAD = "00Q000000000001AAA"
WAIT_S = 90


def baton(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, check=True)


def next_working_morning(now: datetime) -> datetime:
    day = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def wait_for(what: str, check: object) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise TimeoutError(f"waited {WAIT_S} s for {what}")


@pytest.fixture
def flow_env(rabbitmq_url: str, postgres_url: str, pg_schema: str) -> Iterator[tuple[dict[str, str], object]]:
    prefix = unique_prefix()
    with fake_salesforce() as (org, _):
        env = worker_env(
            rabbitmq_url, postgres_url, pg_schema, prefix, BATON_LOG_LEVEL="DEBUG", PYTHONUNBUFFERED="1",
            BATON_OUTBOUND_TOKEN=OUTBOUND_TOKEN, BATON_SALESFORCE_ORG_IDS=ORG, BATON_METRICS_TOKEN=METRICS_TOKEN,
            BATON_PAGE_TOKEN_SECRET=PAGE_TOKEN_SECRET,
            BATON_SALESFORCE_USER_ID="005000000000099AAA", BATON_SALESFORCE_LOGIN_URL=org.url,
            BATON_SALESFORCE_CLIENT_ID="consumer-key", BATON_SALESFORCE_CLIENT_SECRET=org.client_secret,
            REQUESTS_CA_BUNDLE=org.ca_file, NO_PROXY="127.0.0.1",
        )
        yield env, org
    delete_queues(rabbitmq_url, prefix)
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    for stage in BOOKING_QUEUES:
        for name in (f"{prefix}.{stage}", dq_name(f"{prefix}.{stage}"), xq_name(f"{prefix}.{stage}")):
            channel.queue_delete(queue=name)
    connection.close()


def stored_rows(env: dict[str, str]) -> str:
    engine = sa.create_engine(env["BATON_DATABASE_URL"])
    dump = []
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names(schema=env["BATON_DATABASE_SCHEMA"])
        for table in tables:
            rows = connection.exec_driver_sql(f'SELECT * FROM "{env["BATON_DATABASE_SCHEMA"]}"."{table}"')
            dump.extend(f"{table}: {tuple(row)}" for row in rows)
    engine.dispose()
    return "\n".join(dump)


def test_no_session_id_token_or_secret_reaches_a_log_line_or_a_stored_row(
    flow_env: tuple[dict[str, str], object], tmp_path: Path
) -> None:
    env, org = flow_env
    config = tmp_path / "org.yaml"
    config.write_text(booking_config())
    cli_logs = [baton(env, "config", "apply", str(config)).stderr]
    made = baton(env, "tokens", "create", "--name", "scheduler app", "--scope", "bookings:write",
                 "--scope", "bookings:read", "--json")
    cli_logs.append(made.stderr)  # stdout shows the token once, by design: not a log
    api_token = json.loads(made.stdout)["token"]
    cli_logs.append(baton(env, "tokens", "list").stdout)
    linked = baton(env, "handoff-link", "--record", LEAD, "--scheduler", SCHEDULER, "--name", "Sam Scheduler")
    cli_logs.append(linked.stderr)  # stdout is the link, printed for the operator by design: not a log
    link_token = linked.stdout.strip().split("?link=", 1)[1]

    port = free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker", "flusher")}
    processes = [
        ServiceProcess(env, logs["web"], ["uvicorn", "--factory", "entrypoints.http.app:create_app_from_env",
                                          "--no-proxy-headers", "--host", "127.0.0.1", "--port", str(port)]).start(),
        WorkerProcess(env, logs["worker"], threads=2).start(),
        FlusherProcess(env, logs["flusher"]).start(),
    ]
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False
    try:
        wait_for("the web process", lambda: _up(session, base))
        answer = session.post(f"{base}/salesforce/outbound/{OUTBOUND_TOKEN}", data=envelope(notification(1)),
                              headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
        assert answer.status_code == 200 and "<Ack>true</Ack>" in answer.text
        wait_for("the routed owner written to Salesforce", lambda: LEAD in org.owners)  # type: ignore[attr-defined]

        start = next_working_morning(datetime.now(UTC))
        bearer = {"Authorization": f"Bearer {api_token}"}
        booked = session.post(f"{base}/bookings", headers=bearer, timeout=30, json={
            "object_type": "Lead", "record_id": LEAD, "scheduler_user_id": "005000000000009AAA",
            "start": start.isoformat(), "guest_email": "pat@prospect.example.org"})
        assert booked.status_code == 202, booked.text
        status_url = f"{base}{booked.json()['status_url']}"
        wait_for("the booking confirmed",
                 lambda: session.get(status_url, headers=bearer, timeout=30).json()["status"] == "confirmed")
        assert session.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                           timeout=30).status_code == 200
        assert session.get(f"{base}/bookings/x", headers={"Authorization": "Bearer baton_0123456789ab_guess"},
                           timeout=30).status_code == 401

        # the handoff page: opened by its signed link (the token in the query string, so in the access log
        # line), then called with its page token in the header, as the page's own script does; and the page
        # token sent where a link goes (a careless client or an attacker), which puts it in the access log too
        opened = session.get(f"{base}/handoff?link={link_token}", timeout=30)
        assert opened.status_code == 200, opened.text
        meta = re.search(r'<meta name="baton-page-token" content="([^"]+)"', opened.text)
        assert meta is not None, opened.text
        page_token = meta.group(1)
        assert session.get(f"{base}/handoff/availability", headers={"X-Baton-Page-Token": page_token},
                           timeout=30).status_code == 200
        assert session.get(f"{base}/handoff", params={"link": page_token}, timeout=30).status_code == 401
        assert session.get(f"{base}/handoff", params={"link": link_token[:-4] + "AAAA"},
                           timeout=30).status_code == 401  # a tampered link: refused, and still not logged
    finally:
        for process in processes:
            process.stop()

    written = {name: path.read_text(errors="replace") for name, path in logs.items()}
    searched = {**written, "cli": "\n".join(cli_logs), "store": stored_rows(env)}
    secrets = {
        "session id": SESSION, "session id secret part": SESSION.split("!", 1)[1],
        "outbound path token": OUTBOUND_TOKEN, "API token": api_token, "API token secret": api_token.split("_", 2)[2],
        "metrics token": METRICS_TOKEN, "connected app secret": org.client_secret,  # type: ignore[attr-defined]
        "Salesforce access token": "00Dfake!token", "page token secret": PAGE_TOKEN_SECRET,
        "handoff link token": link_token, "handoff link token signature": link_token.split(".", 1)[1],
        "handoff page token": page_token, "handoff page token signature": page_token.split(".", 1)[1],
    }
    leaks = [(what, where) for what, secret in secrets.items() for where, text in searched.items() if secret in text]
    assert leaks == []
    # ... and the search covered the flow: what it logged and stored is there, masked where it must be
    assert '"event": "outbound_accepted"' in written["web"] and "/salesforce/outbound/[redacted]" in written["web"]
    assert '"event": "booking_log"' in written["worker"] and '"event": "outbox_flushed"' in written["flusher"]
    assert "booking_reserved" in written["web"] and "outbound_message" in searched["store"]
    assert '"event": "handoff_opened"' in written["web"] and "GET /handoff?link=[redacted]" in written["web"]


def _up(session: requests.Session, base: str) -> bool:
    try:
        return session.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
