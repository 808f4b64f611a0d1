"""Workers pick up the newest valid config without a restart; a bad version never replaces a good one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.store import Store, make_engine
from baton.configs import ConfigProvider, apply_config
from kernel.errors import ConfigError, PermanentError
from routing.config import config_digest
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_new_version_is_used_by_running_workers_and_recorded_per_decision(pipeline: Pipeline) -> None:
    first = pipeline.apply(team_config(members=1, team="Alpha"))
    pipeline.send([lead_event(1)])
    pipeline.drain()
    second = pipeline.apply(team_config(members=2, team="Beta"))
    pipeline.send([lead_event(2)])
    pipeline.drain()

    logs = {log.record_id: log for log in pipeline.sink.published}
    assert (logs["00Q000000000001AAA"].team, logs["00Q000000000001AAA"].config_version) == ("Alpha", first)
    assert (logs["00Q000000000002AAA"].team, logs["00Q000000000002AAA"].config_version) == ("Beta", second)
    assert logs["00Q000000000002AAA"].owner_id == member_id(1)


def test_apply_refuses_an_invalid_config_and_stores_nothing(pipeline: Pipeline) -> None:
    version = pipeline.apply(team_config(members=1))
    with pytest.raises(ConfigError) as error:
        apply_config(pipeline.store.administration, "teams: []\n", NOW)
    assert error.value.problems[0][0] == "teams"
    assert pipeline.store.administration.latest_config().version == version  # type: ignore[union-attr]


def test_same_text_applied_twice_is_one_version(pipeline: Pipeline) -> None:
    text = team_config(members=1)
    assert apply_config(pipeline.store.administration, text, NOW) == (1, True)
    assert apply_config(pipeline.store.administration, text, NOW) == (1, False)


def test_invalid_stored_version_is_refused_and_the_last_good_one_keeps_running(pipeline: Pipeline) -> None:
    good = pipeline.apply(team_config(members=1))
    provider = ConfigProvider(pipeline.store.administration, refresh_ms=0)
    assert provider.current()[0] == good
    broken = "teams:\n  - name: X\n    members: [{id: '005000000000001AAA', timezone: Mars/Olympus}]\n"
    bad_version, _ = pipeline.store.administration.save_config(broken, config_digest(broken), NOW)

    with capture_logs() as logs:
        version, config = provider.current()

    assert version == good and config.teams[0].name == "Inbound"
    [rejected] = [entry for entry in logs if entry["event"] == "config_rejected"]
    assert rejected["version"] == bad_version
    assert "unknown time zone 'Mars/Olympus'" in str(rejected["problems"])


def test_a_failed_config_read_is_tried_again_on_the_next_call_not_taken_for_no_config(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    applied = pipeline.apply(team_config(members=1))
    store = Store(make_engine(f"sqlite:///{tmp_path / 'missing' / 'baton.sqlite3'}"))  # the database out of reach
    provider = ConfigProvider(store.administration, refresh_ms=60_000)

    with pytest.raises(Exception) as failed:
        provider.current()
    store.administration.engine = pipeline.store.engine  # the connection is back, well within the refresh interval

    assert not isinstance(failed.value, PermanentError)
    assert provider.current()[0] == applied


def test_refresh_now_makes_the_next_read_see_a_version_stored_before_the_refresh_interval_ran_out(
    pipeline: Pipeline,
) -> None:
    first = pipeline.apply(team_config(members=1))
    provider = ConfigProvider(pipeline.store.administration, refresh_ms=3_600_000)
    assert provider.current()[0] == first
    second = pipeline.apply(team_config(members=2))

    assert provider.current()[0] == first  # within the hour: not read again
    provider.refresh_now()
    assert provider.current()[0] == second
