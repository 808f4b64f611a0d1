"""Hostile or broken org configs: wrong types, unknown keys, router-graph cycles and YAML alias bombs are each
refused with the path of what is wrong, and a running system keeps serving its last good version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from baton.configs import ConfigProvider, apply_config
from kernel.errors import ConfigError
from routing.config import MAX_CONFIG_VALUES, config_digest, load_config_text
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MEMBER = "{id: '005000000000001AAA', name: Rep}"
BOOKING_WITH_UNKNOWN_KEY = f"""teams: [{{name: Inbound, members: [{MEMBER}]}}]
booking: {{types: [{{name: Intro, duration_minutes: 30, colour: blue}}]}}
"""
GRAPH_CYCLE = f"""teams: [{{name: Inbound, members: [{MEMBER}]}}]
graphs:
  Lead:
    nodes:
      start: {{kind: trigger, next: check}}
      check: {{kind: decision, condition: {{field: Country, op: in, value: [US]}}, then: again, else: inbound}}
      again: {{kind: decision, condition: {{field: Country, op: in, value: [CA]}}, then: check, else: inbound}}
      inbound: {{kind: assign_team, team: Inbound}}
"""


def alias_bomb(depth: int) -> str:
    def condition(level: int) -> str:
        if level == 0:
            return "&c0 {field: Company, op: equals, value: lol}"
        return f"&c{level} {{any: [{condition(level - 1)}, " + ", ".join([f"*c{level - 1}"] * 8) + "]}"

    return f"""teams: [{{name: Inbound, members: [{MEMBER}]}}]
classification:
  tag_rules:
    - {{name: bomb, when: {condition(depth)}, tags: [x]}}
"""


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (f"teams: [{{name: Inbound, members: {MEMBER}}}]", "teams[0].members", "Input should be a valid list"),
        ("teams: [{name: Inbound, members: [{id: '005000000000001AAA', weight: heavy}]}]",
         "teams[0].members[0].weight", "Input should be a valid integer"),
        ("teams: Inbound", "teams", "Input should be a valid list"),
        ("- just\n- a list\n", "(top level)", "the config must be a mapping of keys to values"),
        (f"teams: [{{name: Inbound, members: [{MEMBER}]}}]\ncolour: blue\n", "colour", "unknown key"),
        (f"teams: [{{name: Inbound, members: [{MEMBER}], colour: blue}}]", "teams[0].colour", "unknown key"),
        (BOOKING_WITH_UNKNOWN_KEY, "booking.types[0].colour", "unknown key"),
        (GRAPH_CYCLE, "graphs.Lead", "nodes.check: cycle: check -> again -> check"),
        ("teams: [{name: Inbound, members: [{id: x}]\n", "config:2:1", "not valid YAML"),
    ],
    ids=["members-not-a-list", "weight-not-a-number", "teams-a-string", "top-level-list", "unknown-top-key",
         "unknown-team-key", "unknown-booking-key", "graph-cycle", "broken-yaml"],
)
def test_a_broken_config_is_refused_naming_the_path(text: str, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config_text(text)

    assert any(where == path and message in problem for where, problem in error.value.problems), error.value.problems


def test_a_yaml_alias_bomb_is_refused_at_once_instead_of_being_expanded() -> None:
    text = alias_bomb(6)  # about 500 bytes, about four million values expanded
    with pytest.raises(ConfigError) as error:
        load_config_text(text)

    [(where, problem)] = error.value.problems
    assert where == "config" and f"at most {MAX_CONFIG_VALUES:,}" in problem and len(text) < 600
    assert load_config_text(alias_bomb(2)).classification.tag_rules[0].name == "bomb"  # modest aliases still work


def test_a_running_system_keeps_routing_with_its_last_good_config(pipeline: Pipeline) -> None:
    good = pipeline.apply(team_config(members=2))
    provider = ConfigProvider(pipeline.store.administration, refresh_ms=0)
    assert provider.current()[0] == good
    for bad in (GRAPH_CYCLE, alias_bomb(6), "teams: Inbound"):
        with pytest.raises(ConfigError):
            apply_config(pipeline.store.administration, bad, NOW)
        pipeline.store.administration.save_config(bad, config_digest(bad), NOW)  # as if written behind Baton's back

    assert provider.current()[0] == good  # running: keeps the version it had
    assert ConfigProvider(pipeline.store.administration, refresh_ms=0).current()[0] == good  # starting now: newest good one
    pipeline.send([lead_event(1)])  # the pipeline's workers load their config only now
    pipeline.drain()
    [log] = pipeline.sink.published
    assert (log.outcome.value, log.config_version) == ("assigned", good)
