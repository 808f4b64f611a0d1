"""``baton logs --since``, ``why``, ``stats`` and a dead-letter replay again, with the store on PostgreSQL
(JSONB columns: the trace's dead-letter search and the latency figures read inside the stored logs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.store import make_engine
from baton import runtime
from tests.support.pipeline import Pipeline, running_pipeline
from tests.unit.entrypoints.cli.test_monitor import (  # noqa: F401  (collected here with a PostgreSQL store)
    routed,
    test_a_replayed_dead_letter_is_processed_once_even_when_replayed_twice,
    test_logs_since_filters_by_outcome_team_and_owner,
    test_stats_counts_members_holds_dead_letters_api_and_latency,
    test_why_lists_dead_letters_that_carry_the_record,
    test_why_shows_a_failed_owner_write_with_its_attempts_error_and_dead_letter,
    test_why_shows_a_held_record_with_its_hold_and_no_owner_write,
    test_why_traces_every_decision_newest_first_stage_by_stage,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


@pytest.fixture
def cli_env(postgres_url: str, pg_schema: str) -> dict[str, str]:
    return {"BATON_DATABASE_URL": postgres_url, "BATON_DATABASE_SCHEMA": pg_schema}
