"""The org's routing configuration: what the YAML file holds, validated with error paths."""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

import yaml
from pydantic import Field, ValidationError

from kernel.errors import ConfigError
from routing.base import Strict
from routing.booking.config import BookingSettings, booking_problems
from routing.classify import Classification
from routing.graph import Graph, validate_graphs
from routing.matching import MatchSettings
from routing.teams import Team
from routing.territories import Territory, TerritoryIndex, validate_territories
from routing.writeback import ObjectWriteback, shape_problems, written_fields

MAX_CONFIG_VALUES = 200_000  # values after YAML aliases are expanded; a large org's config has a few thousand


class RejectionFields(Strict):
    """A rejection made in Salesforce: a change event, by the record's owner, setting ``field`` to true is treated
    as that owner rejecting the record (as ``baton reject``), its reason read from ``reason_field``."""

    field: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$", description="checkbox API name, e.g. Baton_Rejected__c")
    reason_field: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$",
                                     description="text field holding the reason, e.g. Baton_Rejection_Reason__c")


class OrgConfig(Strict):
    teams: list[Team] = Field(min_length=1)
    default_team: str | None = Field(
        default=None, description="team that takes records no graph or territory sends elsewhere"
    )
    classification: Classification = Classification()
    territories: tuple[Territory, ...] = ()
    matching: MatchSettings = MatchSettings()
    graphs: dict[str, Graph] = Field(default_factory=dict, description="router graph per object type")
    booking: BookingSettings = BookingSettings()
    rejection: RejectionFields | None = Field(
        default=None, description="a checkbox whose change to true by the record's owner rejects the record")
    writeback: dict[str, ObjectWriteback] = Field(
        default_factory=dict, description="per object, the routing facts written to Salesforce beside the owner "
                                          "(fact: field API name), or `default` for deploy/salesforce's fields")

    @cached_property
    def territory_index(self) -> TerritoryIndex:
        return TerritoryIndex.build(self.territories)

    @cached_property
    def teams_counting_meetings(self) -> dict[str, Team]:
        """Teams whose period counts are meetings hosted (``fairness.counts: meetings``), by name."""
        return {team.name: team for team in self.teams if team.fairness.meetings}

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    def team_names(self) -> set[str]:
        return {team.name for team in self.teams}

    @cached_property
    def fields_baton_writes(self) -> dict[str, frozenset[str]]:
        """Per object, the fields Baton writes beside OwnerId: the routing facts ``writeback`` maps, and the user
        field a booking gives its host (``booking.objects.<object>.owner_field``)."""
        written = {name: set(written_fields(self.writeback, name)) for name in self.writeback}
        for name, settings in self.booking.objects.items():
            if settings.owner_field is not None:
                written.setdefault(name, set()).add(settings.owner_field)
        return {name: frozenset(fields) for name, fields in written.items()}


def _format_location(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not path:
            path = part
        elif part.startswith(("function-", "tagged-union")) or part in {"str", "int"}:
            continue
        else:
            path += f".{part}"
    return path or "(top level)"


def _friendly_message(error: dict[str, Any]) -> str:
    message: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return message


def _cross_reference_problems(config: OrgConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names = [team.name for team in config.teams]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append((f"teams[{index}].name", f"team {name!r} is defined twice"))
    if config.default_team is not None and config.default_team not in names:
        problems.append(("default_team", f"unknown team {config.default_team!r}"))
    try:
        validate_territories(config.territories)
    except ValueError as exc:
        problems.append(("territories", str(exc)))
    for index, territory in enumerate(config.territories):
        if territory.team not in names:
            problems.append((f"territories[{index}].team", f"unknown team {territory.team!r}"))
    problems.extend(validate_graphs(config.graphs, names, config.booking))
    problems.extend(booking_problems(config.booking, set(names)))
    problems.extend(shape_problems(config.writeback))
    return problems


def parse_config(data: Any) -> OrgConfig:
    """Validate parsed YAML; every problem is reported with its path, all at once."""
    if not isinstance(data, dict):
        raise ConfigError([("(top level)", "the config must be a mapping of keys to values")])
    try:
        config = OrgConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [(_format_location(err["loc"]), _friendly_message(err)) for err in exc.errors()]
        ) from None
    problems = _cross_reference_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values the node stands for once every alias is expanded (aliases share composed nodes)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once instead of looping
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(key, sizes) + _expanded_size(value, sizes) for key, value in node.value)
    else:
        size = 1
    sizes[id(node)] = size
    return size


def _safe_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` that refuses alias bombs: a few hundred bytes of nested anchors can stand for
    billions of values, which validation would then walk."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_CONFIG_VALUES:
            problem = f"the YAML expands to {size:,} values through its aliases (at most {MAX_CONFIG_VALUES:,})"
            raise ConfigError([(source, problem)])
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_config_text(text: str, source: str = "config") -> OrgConfig:
    try:
        data = _safe_yaml(text, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    return parse_config(data)


def config_data(text: str, source: str = "config") -> Any:
    """The config's YAML as plain data (what ``parse_config`` validates), every alias expanded into its own copy
    (so editing one team's members never edits another's); raises ConfigError when it is not valid YAML."""
    try:
        data = _safe_yaml(text, source)
    except yaml.YAMLError as exc:
        raise ConfigError([(source, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    return yaml.load(yaml.dump(data, Dumper=_NoAliases), Loader=yaml.SafeLoader)


def config_text(data: Any) -> str:
    """YAML for config data (keys in their order, no aliases): what ``config_data`` read, once edited."""
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=True)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def config_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
