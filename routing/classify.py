"""Classification: derived fields, stamp groups (first match wins) and tag rules (all matches add).

YAML shape (under ``classification:`` in the org config)::

    classification:
      stamp_groups:
        - name: segment
          rules:
            - name: enterprise
              when: {field: AnnualRevenue, op: greater_than, value: 50000000}
              set: {Segment: Enterprise}
            - name: mid-market
              when: {field: AnnualRevenue, op: between, value: [1000000, 50000000]}
              set: {Segment: Mid-Market}
          default: {Segment: SMB}
      tag_rules:
        - name: education
          when: {field: derived.email_domain, op: ends_with, value: .edu}
          tags: [education]

Stamp groups run in order and each sees the stamps of the groups before it (under the field
name); tag rules run after them, in order, and each sees the tags added before it. Every
condition can read the derived values as ``derived.<name>`` (see ``routing.derive``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from routing.base import Strict
from routing.conditions import Condition, evaluate, explain
from routing.derive import derive
from routing.facts import TAGS_KEY, facts_for

FIELD_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"

FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
StampValue = str | int | float | bool | None
Stamps = Annotated[dict[FieldName, StampValue], Field(min_length=1)]


class StampRule(Strict):
    name: Name | None = None
    when: Condition
    set: Stamps


class StampGroup(Strict):
    """Ordered rules; the first whose condition holds sets its fields, else the default does."""

    name: Name
    rules: tuple[StampRule, ...] = Field(min_length=1)
    default: Stamps | None = None

    @model_validator(mode="after")
    def _rule_names_unique(self) -> StampGroup:
        _reject_duplicates("rule name", (rule.name for rule in self.rules if rule.name))
        return self

    def stamped_fields(self) -> frozenset[str]:
        sets = [rule.set for rule in self.rules] + ([self.default] if self.default else [])
        return frozenset(name for stamps in sets for name in stamps)


class TagRule(Strict):
    """Adds its tags when its condition holds; every matching tag rule adds its tags."""

    name: Name | None = None
    when: Condition
    tags: tuple[Name, ...] = Field(min_length=1)


class Classification(Strict):
    stamp_groups: tuple[StampGroup, ...] = ()
    tag_rules: tuple[TagRule, ...] = ()

    @model_validator(mode="after")
    def _names_unique_and_fields_stamped_once(self) -> Classification:
        _reject_duplicates("stamp group name", (group.name for group in self.stamp_groups))
        _reject_duplicates("tag rule name", (rule.name for rule in self.tag_rules if rule.name))
        owners: dict[str, str] = {}
        for group in self.stamp_groups:
            for name in sorted(group.stamped_fields()):
                if name in owners:
                    raise ValueError(
                        f"field {name!r} is stamped by both group {owners[name]!r} "
                        f"and group {group.name!r}"
                    )
                owners[name] = group.name
        return self


@dataclass(frozen=True)
class ClassificationResult:
    tags: frozenset[str]
    derived: dict[str, Any]
    stamps: dict[str, Any]
    reasons: list[str] = field(default_factory=list)


def classify(
    fields: Mapping[str, Any], config: Classification, now: datetime
) -> ClassificationResult:
    """Derive, stamp and tag one record; ``reasons`` say which rule did what and why."""
    derived = derive(fields, now)
    facts = facts_for(fields, derived)
    stamps: dict[str, Any] = {}
    reasons: list[str] = []
    for group in config.stamp_groups:
        chosen = _apply_stamp_group(group, facts, now, reasons)
        if chosen:
            stamps.update(chosen)
            facts.update(chosen)
    tags = _apply_tag_rules(config.tag_rules, facts, now, reasons)
    return ClassificationResult(tags=tags, derived=derived, stamps=stamps, reasons=reasons)


def _apply_stamp_group(
    group: StampGroup, facts: dict[str, Any], now: datetime, reasons: list[str]
) -> Mapping[str, Any] | None:
    for index, rule in enumerate(group.rules, start=1):
        if evaluate(rule.when, facts, now):
            reasons.append(
                f"stamp group {group.name!r}: rule {_label(rule.name, index)!r} set "
                f"{_assignments(rule.set)} because {explain(rule.when, facts, now)}"
            )
            return rule.set
    if group.default is not None:
        reasons.append(
            f"stamp group {group.name!r}: no rule matched, default set "
            f"{_assignments(group.default)}"
        )
        return group.default
    reasons.append(f"stamp group {group.name!r}: no rule matched, nothing set")
    return None


def _apply_tag_rules(
    rules: Iterable[TagRule], facts: dict[str, Any], now: datetime, reasons: list[str]
) -> frozenset[str]:
    tags: frozenset[str] = facts[TAGS_KEY]
    for index, rule in enumerate(rules, start=1):
        if evaluate(rule.when, facts, now):
            reasons.append(
                f"tag rule {_label(rule.name, index)!r} added {', '.join(rule.tags)} "
                f"because {explain(rule.when, facts, now)}"
            )
            tags = tags.union(rule.tags)
            facts[TAGS_KEY] = tags
    return tags


def _label(name: str | None, index: int) -> str:
    return name or f"#{index}"


def _assignments(stamps: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in stamps.items())


def _reject_duplicates(what: str, names: Iterable[str]) -> None:
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise ValueError(f"{what} {', '.join(map(repr, repeated))} is used more than once")
