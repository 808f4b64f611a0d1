"""Shared fixtures: real services (fail under CI=true when missing) and the in-process pipeline."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton import runtime
from baton.bootstrap import bootstrap
from baton.settings import Settings
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
def stub_runtime(tmp_path_factory: pytest.TempPathFactory) -> runtime.Runtime:
    """The in-process broker with every stage actor bound to it, once per test session."""
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
    return bootstrap(settings)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'baton.sqlite3'}"


_SUITE_ORDER = {"unit": 0, "integration": 1, "fault": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, then integration, fault-injection tests last (they stop and restart services):
    by folder, and any test marked ``fault`` wherever it lives."""

    def suite(item: pytest.Item) -> int:
        if item.get_closest_marker("fault") is not None:
            return _SUITE_ORDER["fault"]
        parts = Path(str(item.fspath)).parts
        return next((_SUITE_ORDER[p] for p in parts if p in _SUITE_ORDER), 0)

    items.sort(key=suite)
