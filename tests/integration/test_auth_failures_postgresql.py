"""The failed-authentication limit on this machine's PostgreSQL: the unit tests' attack through one app and
through two replicas with their own connection pools to one schema, collected here with a PostgreSQL store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from adapters.store import make_engine
from baton import runtime
from tests.support.pipeline import Pipeline, running_pipeline
from tests.unit.entrypoints.http.test_auth_failures import (  # noqa: F401
    app,
    clock,
    test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart,
    test_replicas_over_one_store_share_the_count,
    test_the_21st_bad_bearer_token_of_an_address_is_a_429_and_so_is_its_valid_token_until_the_minute_ends,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


@pytest.fixture
def second_engine(postgres_url: str, pg_schema: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pg_schema)
    yield engine
    engine.dispose()
