"""Baton's own writes that come back as change events without ``client=baton``: told apart by who committed
them and what they changed."""

from __future__ import annotations

import pytest

from routing.changes import ChangeType
from routing.config import load_config_text
from routing.loop_guard import fields_baton_writes, own_write_echo
from tests.support.booking import booking_config
from tests.support.configs import team_config

BATON = "005000000000099AAA"
SOMEONE = "005000000000001AAA"


@pytest.mark.parametrize("object_type, changed", [
    ("Lead", ["OwnerId"]),
    ("Lead", ["LastModifiedDate", "LastModifiedById", "OwnerId"]),
    ("Case", ["SystemModstamp", "OwnerId"]),
    ("Lead", ["LastModifiedDate"]),  # a no-op write of the same owner
    ("Event", ["LastModifiedDate", "Subject", "ShowAs", "StartDateTime", "EndDateTime"]),
])
def test_an_update_by_batons_user_of_only_fields_baton_writes_is_its_own_write(object_type: str,
                                                                               changed: list[str]) -> None:
    reason = own_write_echo(object_type, ChangeType.UPDATE, BATON, changed, BATON)

    assert reason is not None
    assert BATON in reason and "only fields Baton writes" in reason and "changeOrigin" in reason


def test_the_integration_user_matches_by_its_15_character_id() -> None:
    assert own_write_echo("Lead", ChangeType.UPDATE, BATON[:15], ["OwnerId"], BATON) is not None


@pytest.mark.parametrize("object_type, change, changed_by, changed, user", [
    ("Lead", ChangeType.UPDATE, BATON, ["LastModifiedDate", "Status"], BATON),  # another integration on the user
    ("Lead", ChangeType.UPDATE, BATON, ["OwnerId", "Status"], BATON),
    ("Lead", ChangeType.UPDATE, BATON, ["Subject"], BATON),  # an Event field, not a Lead one
    ("Lead", ChangeType.UPDATE, SOMEONE, ["OwnerId"], BATON),  # a person's owner change
    ("Lead", ChangeType.CREATE, BATON, ["OwnerId"], BATON),
    ("Lead", ChangeType.UPDATE, BATON, [], BATON),  # no change list: nothing says it was Baton's
    ("Lead", ChangeType.UPDATE, BATON, None, BATON),
    ("Lead", ChangeType.UPDATE, BATON, ["OwnerId"], None),  # no integration user configured
    ("Lead", ChangeType.UPDATE, None, ["OwnerId"], BATON),
])
def test_any_other_change_is_routed_as_usual(object_type: str, change: ChangeType, changed_by: str | None,
                                             changed: list[str] | None, user: str | None) -> None:
    assert own_write_echo(object_type, change, changed_by, changed, user) is None


def test_baton_writes_the_owner_of_every_object_and_a_bookings_event_fields() -> None:
    assert fields_baton_writes("Lead") == fields_baton_writes("Invoice__c") == {"OwnerId"}
    assert {"OwnerId", "WhoId", "WhatId", "Subject"} <= fields_baton_writes("Event")


def test_the_routing_facts_the_config_writes_back_count_as_fields_baton_writes() -> None:
    """A change echoing Baton's write of the owner and the mapped facts (API names compared without case)
    never routes the record again; a field the mapping does not name still does, as does another object."""
    config = load_config_text(team_config() + "writeback:\n  Lead: default\n  Case: {team: Routing_Team__c}\n")
    writeback = config.fields_baton_writes
    echoed = ["LastModifiedDate", "OwnerId", "Baton_Team__c", "baton_reason__c", "Baton_SLA_Due__c"]

    assert own_write_echo("Lead", ChangeType.UPDATE, BATON, echoed, BATON, writeback) is not None
    assert own_write_echo("Case", ChangeType.UPDATE, BATON, ["Routing_Team__c"], BATON, writeback) is not None
    assert own_write_echo("Lead", ChangeType.UPDATE, BATON, echoed, BATON) is None  # not mapped: routed
    assert own_write_echo("Lead", ChangeType.UPDATE, BATON, [*echoed, "Status"], BATON, writeback) is None
    assert own_write_echo("Case", ChangeType.UPDATE, BATON, ["Baton_Team__c"], BATON, writeback) is None
    assert own_write_echo("Lead", ChangeType.UPDATE, SOMEONE, ["Baton_Team__c"], BATON, writeback) is None
    assert fields_baton_writes("Case", writeback) == {"OwnerId", "Routing_Team__c"}


def test_a_bookings_host_field_counts_as_a_field_baton_writes() -> None:
    config = load_config_text(booking_config().replace(
        "      related_owner_updates: [{lookup_field: ConvertedAccountId}]\n",
        "      related_owner_updates: [{lookup_field: ConvertedAccountId}]\n      owner_field: SDR__c\n"))

    assert config.fields_baton_writes["Lead"] == {"SDR__c"}
    assert own_write_echo("Lead", ChangeType.UPDATE, BATON, ["SDR__c"], BATON, config.fields_baton_writes) is not None
    assert own_write_echo("Lead", ChangeType.UPDATE, BATON, ["SDR__c", "Status"], BATON,
                          config.fields_baton_writes) is None
