"""Two `baton sync` runs on one PostgreSQL store: the second skips its round instead of racing the first."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from adapters.store import make_engine, upgrade_schema
from adapters.store.leader import LeaderLock
from entrypoints.cli import SYNC_LOCK, app
from entrypoints.demo.fake_salesforce import fake_salesforce
from tests.support.cli import keep_logging_config  # noqa: F401
from tests.unit.adapters.salesforce.test_sync import account

pytestmark = pytest.mark.integration


def test_a_second_sync_skips_while_another_holds_the_sync_lock(
    postgres_url: str, pg_schema: str, keep_logging_config: None  # noqa: F811
) -> None:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    running = LeaderLock(engine, SYNC_LOCK)
    assert running.try_acquire()
    with fake_salesforce() as (fake, _):
        fake.records["Account"] = [account(1, at=1)]
        env = {"BATON_DATABASE_URL": postgres_url, "BATON_DATABASE_SCHEMA": pg_schema, "BATON_LOG_LEVEL": "WARNING",
               "BATON_SALESFORCE_LOGIN_URL": fake.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
               "BATON_SALESFORCE_CLIENT_SECRET": fake.client_secret, "REQUESTS_CA_BUNDLE": fake.ca_file}
        skipped = CliRunner().invoke(app, ["sync", "--object", "Account"], env=env)
        queries_while_held = [call for call in fake.calls if call.get("soql")]
        running.release()
        ran = CliRunner().invoke(app, ["sync", "--object", "Account"], env=env)
    engine.dispose()

    assert skipped.exit_code == 0 and "another baton sync is running" in skipped.stderr
    assert queries_while_held == []
    assert ran.exit_code == 0, ran.stderr
    assert "Rows synced" in ran.stdout
