"""A platform-event channel cannot be caught up by SOQL after its replay id expired: the listener says so
where operators look (an error log and a ``listen`` dead letter naming the channel and the window)."""

from __future__ import annotations

from datetime import UTC, datetime

from structlog.testing import capture_logs

from adapters.salesforce.streaming import REPLAY_NEW
from entrypoints.listener import ChannelListener
from tests.support import cdc_samples as cdc
from tests.support.fake_cometd import FakeStreamingOrg
from tests.support.pipeline import Pipeline
from tests.unit.entrypoints.test_listener import WAIT_S, org, running  # noqa: F401 - org is a fixture

CHANNEL = cdc.BOOKING_CHANNEL


def test_an_expired_platform_event_replay_id_leaves_a_dead_letter_naming_the_lost_window(
    pipeline: Pipeline, org: FakeStreamingOrg  # noqa: F811
) -> None:
    last_seen = datetime(2025, 11, 17, 12, 0, tzinfo=UTC)
    pipeline.store.administration.save_stream_position(CHANNEL, 5, last_seen, last_seen)
    org.expire_below(CHANNEL, 500)
    subject = ChannelListener(CHANNEL, pipeline.store, pipeline.broker, org.client,
                              backoff_min_s=0.05, backoff_max_s=0.2)
    with capture_logs() as logs, running(subject):
        org.wait_for(lambda: (p := pipeline.store.administration.stream_position(CHANNEL)) is not None and p.replay_id is None,
                     WAIT_S)

    assert org.subscriptions == [(CHANNEL, 5), (CHANNEL, REPLAY_NEW)]
    assert org.queries == []
    [letter] = pipeline.store.administration.dead_letters("listen")
    assert letter.message["channel"] == CHANNEL and letter.message["since"] == last_seen.isoformat()
    assert CHANNEL in letter.reason and "were not routed" in letter.reason and "baton reassign --soql" in letter.reason
    [logged] = [entry for entry in logs if entry["event"] == "catch_up_impossible"]
    assert logged["channel"] == CHANNEL and logged["log_level"] == "error"
