"""The scheduler's store work (SLA timers, latest activity, holds) on this machine's PostgreSQL: the unit
suite's pipeline tests, collected here with a PostgreSQL ``pipeline``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.store import make_engine
from baton import runtime
from tests.support.pipeline import Pipeline, running_pipeline
from tests.unit.baton.operations.test_scheduler import (  # noqa: F401
    test_a_breached_record_is_reassigned_through_the_graph_and_the_team_lead_is_told,
    test_a_record_changed_by_its_owner_before_the_deadline_is_left_alone,
    test_the_end_of_an_absence_sends_held_records_to_a_re_check_at_once,
    test_without_salesforce_a_breach_is_escalated_and_says_it_was_not_reassigned,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline
