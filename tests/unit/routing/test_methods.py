"""The registry of distribution methods: one entry per method, and the config choices made from it."""

from __future__ import annotations

import typing

import pytest

from routing.methods import (
    DIRECT_METHODS,
    DISTRIBUTION_METHODS,
    METHODS,
    FallbackMethod,
    Method,
    TierMethod,
)
from routing.selection.state import MemberState
from routing.teams import DirectOwnerRule, Member, Team


def test_every_method_has_one_entry_and_every_distribution_method_orders_or_delegates():
    assert set(METHODS) == set(Method)
    for method, spec in METHODS.items():
        assert spec.method == method
        if spec.direct:
            assert spec.key is None
            assert spec.direct_rule in Team.model_fields
        else:
            assert (spec.key is None) == (spec.tiered or spec.queued)


def test_direct_and_distribution_methods_split_the_methods():
    assert DIRECT_METHODS == {Method.LOOKUP_OWNER, Method.RELATED_OWNER}
    assert DISTRIBUTION_METHODS == {
        Method.ROUND_ROBIN, Method.WEIGHTED, Method.LOAD_BALANCING, Method.PRIORITY_TIERS, Method.PULL
    }


def test_config_choices_for_tiers_and_fallbacks_come_from_the_registry():
    assert typing.get_args(TierMethod) == ("round_robin", "weighted", "load_balancing")
    assert typing.get_args(FallbackMethod) == (
        "team_method", "round_robin", "weighted", "load_balancing", "priority_tiers", "hold"
    )


def test_keys_order_by_oldest_turn_lowest_pass_and_fewest_open_records():
    state = MemberState(last_turn=3, virtual_pass=7, open_records=2)
    assert METHODS[Method.ROUND_ROBIN].key(4, state) == (3, 4)
    assert METHODS[Method.WEIGHTED].key(4, state) == (7, 4)
    assert METHODS[Method.LOAD_BALANCING].key(4, state) == (2, 3, 4)


@pytest.mark.parametrize("method", sorted(DIRECT_METHODS))
def test_a_team_names_the_rule_of_each_direct_method(method: Method):
    team = Team(
        name="t",
        members=[Member(id="u1")],
        lookup_owner=DirectOwnerRule(field="Owner__c"),
    )
    assert team.direct_rule(method) is getattr(team, METHODS[method].direct_rule)


def test_a_distribution_method_has_no_direct_rule():
    team = Team(name="t", members=[Member(id="u1")])
    with pytest.raises(ValueError, match="names no owner directly"):
        team.direct_rule(Method.ROUND_ROBIN)
