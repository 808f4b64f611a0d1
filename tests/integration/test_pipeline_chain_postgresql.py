"""The in-process pipeline's behaviour tests again, with the store on this machine's PostgreSQL.

The assign stage writes its decisions differently on PostgreSQL (one statement under the team's row
lock), so retries, redelivery, stale events, holds, sticky owners, workload counts and teams counting
meetings are checked on both databases: the tests below are the unit suite's, collected here with a
PostgreSQL ``pipeline``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.store import make_engine
from baton import runtime
from tests.end_to_end.test_routing_chain import *  # noqa: F403
from tests.support.pipeline import Pipeline, running_pipeline
from tests.unit.baton.assignment.test_assign_meetings import *  # noqa: F403
from tests.unit.baton.assignment.test_assign_sticky import *  # noqa: F403
from tests.unit.baton.assignment.test_assign_workload import *  # noqa: F403
from tests.unit.baton.assignment.test_holds import *  # noqa: F403

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline
