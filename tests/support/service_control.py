"""The RabbitMQ node and PostgreSQL cluster the integration and fault tests use, and stopping and starting them.

Which services: ``BATON_TEST_RABBITMQ_URL`` and ``BATON_TEST_POSTGRES_URL`` (default: the machine's). Which node
and cluster a fault test stops: ``BATON_TEST_RABBITMQ_NODE`` (default: rabbitmqctl's own default node) and
``BATON_TEST_POSTGRES_CLUSTER`` (``15/main``), so a developer can aim them at private instances while others use
the machine's services. ``Services`` always waits until each answers again after a start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RABBITMQ_NODE = os.environ.get("BATON_TEST_RABBITMQ_NODE", "")
POSTGRES_CLUSTER = os.environ.get("BATON_TEST_POSTGRES_CLUSTER", "15/main")


def may_stop_services() -> bool:
    """Stopping RabbitMQ or PostgreSQL is allowed under CI=true, with BATON_TEST_STOP_SERVICES=1, or when the
    node and cluster to stop were named (private instances): never by accident on a shared machine."""
    return (os.environ.get("CI", "").lower() == "true" or os.environ.get("BATON_TEST_STOP_SERVICES") == "1"
            or bool(os.environ.get("BATON_TEST_RABBITMQ_NODE") and os.environ.get("BATON_TEST_POSTGRES_CLUSTER")))
SERVICE_WAIT_S = 120


def service_urls() -> tuple[str, str]:
    """(RabbitMQ URL, PostgreSQL URL) the tests and bench runs use: ``BATON_TEST_RABBITMQ_URL`` and
    ``BATON_TEST_POSTGRES_URL``, else the machine's services."""
    return (os.environ.get("BATON_TEST_RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
            os.environ.get("BATON_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def rabbitmqctl(*args: str, timeout_s: float = 60) -> str:
    node = ["-n", RABBITMQ_NODE] if RABBITMQ_NODE else []
    return subprocess.run(["rabbitmqctl", *node, *args], check=True, capture_output=True, text=True,
                          timeout=timeout_s).stdout


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def wait_for_port(host: str, port: int, timeout_s: float = SERVICE_WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s") from None
            time.sleep(0.2)


@dataclass
class Services:
    """The RabbitMQ node and PostgreSQL cluster under test, stopped and started on purpose."""

    rabbitmq_url: str
    postgres_url: str
    rabbitmq_stopped: bool = False
    postgres_stopped: bool = False

    def stop_rabbitmq(self) -> None:
        assert may_stop_services(), "stopping the machine's RabbitMQ needs CI=true or BATON_TEST_STOP_SERVICES=1"
        self.rabbitmq_stopped = True
        rabbitmqctl("stop_app")

    def start_rabbitmq(self) -> None:
        rabbitmqctl("start_app", timeout_s=SERVICE_WAIT_S)
        rabbitmqctl("await_startup", timeout_s=SERVICE_WAIT_S)
        wait_for_port(*host_port(self.rabbitmq_url, 5672))
        self.rabbitmq_stopped = False

    def _pg_ctl(self, action: str) -> None:
        version, name = POSTGRES_CLUSTER.split("/", 1)
        subprocess.run(["pg_ctlcluster", version, name, action, "-m", "fast"] if action != "start"
                       else ["pg_ctlcluster", version, name, action],
                       check=True, capture_output=True, text=True, timeout=SERVICE_WAIT_S)

    def stop_postgres(self) -> None:
        assert may_stop_services(), "stopping the machine's PostgreSQL needs CI=true or BATON_TEST_STOP_SERVICES=1"
        self.postgres_stopped = True
        self._pg_ctl("stop")

    def start_postgres(self) -> None:
        self._pg_ctl("start")
        self.wait_for_postgres()
        self.postgres_stopped = False

    def wait_for_postgres(self) -> None:
        import sqlalchemy as sa

        deadline = time.monotonic() + SERVICE_WAIT_S
        engine = sa.create_engine(self.postgres_url, pool_pre_ping=True)
        try:
            while True:
                try:
                    with engine.connect() as connection:
                        connection.exec_driver_sql("SELECT 1")
                    return
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            engine.dispose()

    def restore(self) -> None:
        """Whatever a test stopped is started again (also when it failed half-way)."""
        if self.rabbitmq_stopped:
            self.start_rabbitmq()
        if self.postgres_stopped:
            self.start_postgres()
