"""Routing facts written back to Salesforce beside the owner: which fact of a decision goes to which field of an
object (the org config's ``writeback``), which Salesforce field types each fact fits, what is wrong with a
mapping against the org's describes, and the field values of one decision. Pure.

In the org config, per object, a mapping of fact to field API name, or ``default`` for the fields the Salesforce
DX project in ``deploy/salesforce`` creates::

    writeback:
      Lead: default
      Case:
        team: Routing_Team__c
        reason: Routing_Reason__c
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import PlainValidator

from kernel.ports.describes import FieldDescribe, ObjectDescribe

Fact = Literal["team", "territory", "method", "matched_account", "stamps", "tags", "reason", "assigned_at",
               "sla_due", "sla_breached", "routing_id"]
FieldMapping = Mapping[Fact, str]
DEFAULT = "default"
OWNER_FIELD = "OwnerId"
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
TEXT_LIMIT = 255  # a text fact is cut to its field's length, or to this without a describe


class Kind(Enum):
    TEXT = "text"
    LIST = "list"
    ACCOUNT = "account"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    ID = "id"


FACT_KINDS: dict[Fact, Kind] = {
    "team": Kind.TEXT, "territory": Kind.TEXT, "method": Kind.TEXT, "matched_account": Kind.ACCOUNT,
    "stamps": Kind.LIST, "tags": Kind.LIST, "reason": Kind.TEXT, "assigned_at": Kind.DATETIME,
    "sla_due": Kind.DATETIME, "sla_breached": Kind.BOOLEAN, "routing_id": Kind.ID,
}
FITTING_TYPES: dict[Kind, frozenset[str]] = {
    Kind.TEXT: frozenset({"string", "textarea", "picklist"}),
    Kind.LIST: frozenset({"string", "textarea", "multipicklist"}),
    Kind.ACCOUNT: frozenset({"reference"}),
    Kind.DATETIME: frozenset({"datetime"}),
    Kind.BOOLEAN: frozenset({"boolean"}),
    Kind.ID: frozenset({"string", "textarea"}),
}
DEFAULT_FIELDS: dict[Fact, str] = {
    "team": "Baton_Team__c", "territory": "Baton_Territory__c", "method": "Baton_Method__c",
    "matched_account": "Baton_Matched_Account__c", "stamps": "Baton_Stamps__c", "tags": "Baton_Tags__c",
    "reason": "Baton_Reason__c", "assigned_at": "Baton_Assigned_At__c", "sla_due": "Baton_SLA_Due__c",
    "sla_breached": "Baton_SLA_Breached__c", "routing_id": "Baton_Routing_Id__c",
}
# The Salesforce field type of each default field, as ``deploy/salesforce`` creates it.
DEFAULT_FIELD_TYPES: dict[str, str] = {
    "Baton_Team__c": "string", "Baton_Territory__c": "string", "Baton_Method__c": "string",
    "Baton_Matched_Account__c": "reference", "Baton_Stamps__c": "textarea", "Baton_Tags__c": "textarea",
    "Baton_Reason__c": "string", "Baton_Assigned_At__c": "datetime", "Baton_SLA_Due__c": "datetime",
    "Baton_SLA_Breached__c": "boolean", "Baton_Routing_Id__c": "string",
}

def _object_writeback(value: Any) -> dict[Fact, str] | Literal["default"]:
    if value == DEFAULT:
        return DEFAULT
    if not isinstance(value, dict) or not value:
        raise ValueError(f"a mapping of fact to Salesforce field API name, or {DEFAULT!r}")
    for fact, name in value.items():
        if fact not in FACT_KINDS:
            raise ValueError(f"unknown fact {fact!r} (facts: {', '.join(FACT_KINDS)})")
        if not isinstance(name, str):
            raise ValueError(f"{fact}: the field must be an API name, not {name!r}")
    return dict(value)


ObjectWriteback = Annotated[dict[Fact, str] | Literal["default"], PlainValidator(_object_writeback)]


def resolved(mapping: ObjectWriteback) -> dict[Fact, str]:
    """The fact-to-field mapping, ``default`` spelled out."""
    return dict(DEFAULT_FIELDS) if mapping == DEFAULT else dict(mapping)


def shape_problems(writeback: Mapping[str, ObjectWriteback]) -> list[tuple[str, str]]:
    """What is wrong with the mapping on its own (no describes needed): field names, the owner field, a field
    named twice."""
    problems: list[tuple[str, str]] = []
    for object_type, mapping in writeback.items():
        seen: dict[str, str] = {}
        for fact, name in resolved(mapping).items():
            path = f"writeback.{object_type}.{fact}"
            if not FIELD_NAME.match(name):
                problems.append((path, f"{name!r} is not a Salesforce field API name"))
            elif name.lower() == OWNER_FIELD.lower():
                problems.append((path, "OwnerId is written by Baton as the owner; map facts to other fields"))
            elif name.lower() in seen:
                problems.append((path, f"{name} is also the field of {seen[name.lower()]}"))
            seen.setdefault(name.lower(), fact)
    return problems


def field_problem(fact: Fact, object_type: str, found: FieldDescribe | None, name: str,
                  values: Collection[str] = ()) -> str | None:
    """Why ``name`` of ``object_type`` cannot take ``fact`` (None when it can); ``values`` are the values the
    config can give the fact (team, territory and method names), which a restricted picklist must hold."""
    where = f"{object_type}.{name}"
    if found is None:
        return f"{object_type} has no field {name}"
    if found.calculated or not found.updateable:
        return f"{where} is not updateable (a formula or read-only field)"
    kind = FACT_KINDS[fact]
    if found.type not in FITTING_TYPES[kind]:
        fitting = ", ".join(sorted(FITTING_TYPES[kind]))
        return f"{where} is a {found.type} field; {fact} needs {fitting}"
    if kind is Kind.ACCOUNT and "Account" not in found.reference_to:
        return f"{where} looks up {', '.join(found.reference_to) or 'nothing'}; {fact} needs a lookup to Account"
    if found.type == "string" and found.length < TEXT_LIMIT:
        return (f"{where} holds {found.length} characters; {fact} is cut at {TEXT_LIMIT}: give it length "
                f"{TEXT_LIMIT} or make it a long text area")
    missing = sorted(set(values) - set(found.picklist_values)) if found.restricted_picklist else []
    if found.type in ("picklist", "multipicklist") and missing:
        return f"{where} is a restricted picklist without the values {', '.join(missing)}"
    return None


def mapping_problems(writeback: Mapping[str, ObjectWriteback], describes: Mapping[str, ObjectDescribe],
                     values: Mapping[Fact, Collection[str]] | None = None) -> list[tuple[str, str]]:
    """Each mapped field that does not exist on its object, has the wrong type, is not updateable, is a text field
    shorter than the facts written to it, or a restricted picklist lacking a value of ``values``, with the path
    of the mapping; an object without a stored describe is one problem (run ``baton sync``)."""
    problems: list[tuple[str, str]] = []
    for object_type, mapping in writeback.items():
        describe = describes.get(object_type)
        if describe is None:
            problems.append((f"writeback.{object_type}",
                             f"no describe of {object_type} in the store: run `baton sync` to fetch it"))
            continue
        for fact, name in resolved(mapping).items():
            problem = field_problem(fact, object_type, describe.field(name), name, (values or {}).get(fact, ()))
            if problem is not None:
                problems.append((f"writeback.{object_type}.{fact}", problem))
    return problems


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    """What a decision found, as the write-back reads it."""

    routing_id: str
    assigned_at: datetime
    team: str | None = None
    territory: str | None = None
    method: str | None = None
    matched_account_id: str | None = None
    stamps: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    reason: str | None = None
    sla_due: datetime | None = None
    sla_breached: bool = False


def _text(value: str | None, limit: int) -> str | None:
    if value is None or value == "":
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _salesforce_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(fact: Fact, facts: DecisionFacts, found: FieldDescribe | None) -> Any:
    limit = found.length if found is not None and found.length else TEXT_LIMIT
    multipicklist = found is not None and found.type == "multipicklist"
    if fact == "stamps":
        listed = [f"{key}={value}" for key, value in sorted(facts.stamps.items())]
        return _text(";".join(listed) if multipicklist else "; ".join(listed), limit)
    if fact == "tags":
        return _text((";" if multipicklist else ", ").join(sorted(facts.tags)), limit)
    if fact in ("assigned_at", "sla_due"):
        return _salesforce_time(facts.assigned_at if fact == "assigned_at" else facts.sla_due)
    if fact == "sla_breached":
        return facts.sla_breached
    if fact == "matched_account":
        return facts.matched_account_id
    text = {"team": facts.team, "territory": facts.territory, "method": facts.method, "reason": facts.reason,
            "routing_id": facts.routing_id}[fact]
    return _text(text, limit)


def field_values(facts: DecisionFacts, mapping: ObjectWriteback,
                 describe: ObjectDescribe | None = None) -> dict[str, Any]:
    """The Salesforce field values of a decision under ``mapping``: every mapped field, a fact the decision
    lacks written as null (so an older decision's value does not linger), text cut to the field's length."""
    return {name: _value(fact, facts, describe.field(name) if describe is not None else None)
            for fact, name in resolved(mapping).items()}


def written_fields(writeback: Mapping[str, ObjectWriteback], object_type: str) -> frozenset[str]:
    """The fields Baton writes to ``object_type`` beside the owner (for the loop guard)."""
    mapping = writeback.get(object_type)
    return frozenset(resolved(mapping).values()) if mapping is not None else frozenset()
