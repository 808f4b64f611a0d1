"""Fault-run fixtures: the services a test stops are always started again afterwards
(``Services.restore``, waiting until each answers), even when the test failed half-way; and every run a
test started (a ``RunCounts``) is recorded with the test's outcome, after its assertions (a failed or
timed-out run as failed, with what it had counted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fault_run import FaultRun, fault_run_context
from tests.support.run_counts import AWAITING_VERDICT, give_verdict
from tests.support.service_control import Services


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "setup":
        AWAITING_VERDICT.clear()
    elif report.when == "call":
        give_verdict(report.passed)
    return report


@pytest.fixture
def services(rabbitmq_url: str, postgres_url: str) -> Iterator[Services]:
    services = Services(rabbitmq_url, postgres_url)
    try:
        yield services
    finally:
        services.restore()


@pytest.fixture
def fault_run(services: Services, rabbitmq_url: str, postgres_url: str, pg_schema: str,
              tmp_path: Path) -> Iterator[FaultRun]:
    with fault_run_context(services, rabbitmq_url, postgres_url, pg_schema, tmp_path) as run:
        yield run
