"""Shared fixtures: real services (fail under CI=true when missing) and the in-process pipeline."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from baton import runtime
from baton.bootstrap import bootstrap
from baton.settings import Settings
from tests.support.pipeline import pipeline  # noqa: F401  (the in-process pipeline fixture, for every folder)
from tests.support.service_control import host_port, service_urls

RABBITMQ_URL, POSTGRES_URL = service_urls()
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip on a laptop without the service; under CI=true a missing service is a failure."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_service("PostgreSQL", *host_port(POSTGRES_URL, 5432))
    return POSTGRES_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    require_service("RabbitMQ", *host_port(RABBITMQ_URL, 5672))
    return RABBITMQ_URL


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"baton_test_{uuid.uuid4().hex[:10]}"
    yield schema
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(scope="session")
def session_application(tmp_path_factory: pytest.TempPathFactory) -> tuple[runtime.Runtime, Settings]:
    """The in-process broker with every stage actor bound to it, once per test session, and its settings."""
    database = tmp_path_factory.mktemp("session") / "bootstrap.sqlite3"
    settings = Settings(
        broker_url="",
        database_url=f"sqlite:///{database}",
        queue_prefix="baton-unit",
        min_backoff_ms=5,
        max_backoff_ms=20,
        max_retries=3,
        config_refresh_ms=0,
        retry_enqueue_wait_ms=0,
    )
    return bootstrap(settings), settings


@pytest.fixture
def stub_runtime(session_application: tuple[runtime.Runtime, Settings]) -> Iterator[runtime.Runtime]:
    """The session's application, with the session's settings and ports again after each test (a test gives it
    other ports or settings by assigning them: the actors hold this object)."""
    application, settings = session_application
    ports = application.ports
    application.settings = settings
    yield application
    application.settings, application.ports = settings, ports
