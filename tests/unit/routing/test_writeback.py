"""The write-back mapping: what the org config may map, what is wrong with a mapping against the org's
describes, and the field values a decision writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kernel.errors import ConfigError
from kernel.ports.describes import FieldDescribe, ObjectDescribe
from routing.config import load_config_text
from routing.writeback import DEFAULT_FIELD_TYPES, DEFAULT_FIELDS, DecisionFacts, field_values, mapping_problems
from tests.support.configs import team_config

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MINIMAL_CONFIG = team_config()


def describe(object_type: str, *fields: FieldDescribe) -> ObjectDescribe:
    return ObjectDescribe(object_type, {field.name: field for field in fields}, NOW)


def default_fields() -> list[FieldDescribe]:
    return [FieldDescribe(name, kind, True, 255, ("Account",) if kind == "reference" else ())
            for name, kind in DEFAULT_FIELD_TYPES.items()]


def test_a_mapping_is_read_from_the_org_config_and_bad_ones_are_named_by_path() -> None:
    config = load_config_text(MINIMAL_CONFIG + "\nwriteback:\n  Lead: default\n  Case:\n    team: Team__c\n")
    assert config.writeback == {"Lead": "default", "Case": {"team": "Team__c"}}

    with pytest.raises(ConfigError) as unknown:
        load_config_text(MINIMAL_CONFIG + "\nwriteback:\n  Lead:\n    teem: X__c\n")
    with pytest.raises(ConfigError) as owner:
        load_config_text(MINIMAL_CONFIG + "\nwriteback:\n  Case:\n    team: OwnerId\n    reason: Team__c\n    tags: team__c\n")
    assert "writeback.Lead: unknown fact 'teem'" in str(unknown.value)
    assert owner.value.problems == [("writeback.Case.team", "OwnerId is written by Baton as the owner; map facts to other fields"),
                                    ("writeback.Case.tags", "team__c is also the field of reason")]


def test_fields_missing_of_the_wrong_type_or_not_updateable_are_each_named() -> None:
    lead = describe("Lead", *default_fields(), FieldDescribe("Score__c", "double", True),
                    FieldDescribe("Formula__c", "string", False, calculated=True),
                    FieldDescribe("Contact__c", "reference", True, reference_to=("Contact",)))
    mapping = {"team": "Score__c", "reason": "Formula__c", "matched_account": "Contact__c", "method": "Nope__c"}

    assert mapping_problems({"Lead": "default"}, {"Lead": lead}) == []
    assert mapping_problems({"Lead": mapping, "Case": "default"}, {"Lead": lead}) == [
        ("writeback.Lead.team", "Lead.Score__c is a double field; team needs picklist, string, textarea"),
        ("writeback.Lead.reason", "Lead.Formula__c is not updateable (a formula or read-only field)"),
        ("writeback.Lead.matched_account", "Lead.Contact__c looks up Contact; matched_account needs a lookup to Account"),
        ("writeback.Lead.method", "Lead has no field Nope__c"),
        ("writeback.Case", "no describe of Case in the store: run `baton sync` to fetch it"),
    ]


def test_a_decision_writes_every_mapped_field_and_nulls_what_it_lacks() -> None:
    facts = DecisionFacts("route-1", NOW, team="EMEA", method="round_robin", tags=("vip", "de"),
                          stamps={"tier": "A"}, reason="x" * 300)
    lead = describe("Lead", *default_fields())

    values = field_values(facts, "default", lead)

    assert values[DEFAULT_FIELDS["team"]] == "EMEA" and values[DEFAULT_FIELDS["territory"]] is None
    assert values[DEFAULT_FIELDS["assigned_at"]] == "2026-03-02T09:30:00.000Z"
    assert values[DEFAULT_FIELDS["tags"]] == "de, vip" and values[DEFAULT_FIELDS["stamps"]] == "tier=A"
    assert len(values[DEFAULT_FIELDS["reason"]]) == 255 and values[DEFAULT_FIELDS["sla_breached"]] is False
    assert set(values) == set(DEFAULT_FIELDS.values())


def test_a_short_text_field_and_a_restricted_picklist_missing_a_team_are_refused() -> None:
    lead = describe("Lead", FieldDescribe("Team__c", "picklist", True, picklist_values=("EMEA",),
                                          restricted_picklist=True),
                    FieldDescribe("Method__c", "picklist", True, picklist_values=("x",)),
                    FieldDescribe("Reason__c", "string", True, 80))
    mapping = {"team": "Team__c", "method": "Method__c", "reason": "Reason__c"}

    assert mapping_problems({"Lead": mapping}, {"Lead": lead}, {"team": {"EMEA", "US"}, "method": {"weighted"}}) == [
        ("writeback.Lead.team", "Lead.Team__c is a restricted picklist without the values US"),
        ("writeback.Lead.reason", "Lead.Reason__c holds 80 characters; reason is cut at 255: give it length 255 "
                                  "or make it a long text area"),
    ]
