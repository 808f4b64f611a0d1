"""Real ``dramatiq workers`` serve dramatiq's and Baton's metrics on BATON_METRICS_PORT; /readyz on real services."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from baton import runtime
from baton.configs import ConfigProvider
from baton.ports import Ports, RecordingSink, UnconfiguredOwnerWriter
from baton.settings import Settings
from entrypoints.http.app import create_app
from kernel.clock import utc_now
from tests.integration.conftest import Cluster
from tests.integration.test_pipeline_rabbitmq import wait_for_assignments
from tests.support.configs import team_config
from tests.support.events import lead_event

pytestmark = pytest.mark.integration
RECORDS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_worker_metrics_port_serves_dramatiq_and_baton_metrics(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    cluster.env.update({"BATON_METRICS_PORT": str(port), "BATON_METRICS_HOST": "127.0.0.1",
                        "dramatiq_prom_db": str(tmp_path / "prometheus")})
    cluster.apply(team_config(members=3))
    cluster.start_worker(threads=2)
    cluster.producer.publish([lead_event(n) for n in range(1, RECORDS + 1)], batch_size=3)
    wait_for_assignments(cluster, RECORDS)

    wanted = ("baton_assignments_total", frozenset({"team": "Inbound", "method": "round_robin",
                                                    "outcome": "assigned"}.items()))
    deadline, samples = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        try:
            samples = scrape(port)
        except OSError:
            samples = {}
        if samples.get(wanted) == RECORDS:
            break
        time.sleep(0.25)
    assert samples.get(wanted) == RECORDS, f"{sorted(k[0] for k in samples)}\n{cluster.worker_logs()}"
    queue = f"{cluster.prefix}.assign"
    assert samples[("dramatiq_messages_total", frozenset({"queue_name": queue, "actor_name": "assign"}.items()))] == 2
    assert samples[("baton_stage_duration_seconds_count", frozenset({"stage": "assign", "result": "ok"}.items()))] == 2


def test_readyz_is_200_on_real_rabbitmq_and_postgresql(cluster: Cluster) -> None:
    settings = Settings(broker_url=cluster.env["BATON_BROKER_URL"], database_url=cluster.env["BATON_DATABASE_URL"])
    ports = Ports(store=cluster.store, configs=ConfigProvider(cluster.store.administration), owner_writer=UnconfiguredOwnerWriter(),
                  sink=RecordingSink())
    live = runtime.Runtime(settings, RabbitmqBroker(url=settings.broker_url, middleware=[]), ports)

    response = TestClient(create_app(lambda: live)).get("/readyz")

    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] and checks["database"] == {"ok": True, "detail": "postgresql reachable"}


def test_flusher_serves_the_store_gauges_on_its_metrics_port(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    cluster.env.update({"BATON_METRICS_PORT": str(port), "BATON_METRICS_HOST": "127.0.0.1"})
    cluster.store.administration.save_api_usage(300, 15_000, utc_now())
    cluster.start_flusher()

    deadline, samples = time.monotonic() + 30, {}
    while time.monotonic() < deadline and not samples:
        try:
            samples = scrape(port)
        except OSError:
            time.sleep(0.25)
    assert samples.get(("baton_store_up", frozenset())) == 1, cluster.worker_logs()
    assert samples[("baton_salesforce_api_requests_remaining", frozenset())] == 14_700
