"""Notification templates: ``str.format`` text per kind, built in or overridden from a YAML file."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from kernel.errors import ConfigError

PARTS = ("subject", "text", "slack")


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    slack: str


DEFAULT_TEMPLATES: dict[str, Template] = {
    "assigned": Template(
        subject="{object_type} {record_id} is yours",
        text="Hello {recipient_name},\n\nBaton assigned {object_type} {record_id} to you (team {team}, "
             "{method}).\n",
        slack="{recipient_name}: {object_type} {record_id} is yours (team {team}, {method})",
    ),
    "sla_escalation": Template(
        subject="SLA missed: {object_type} {record_id} ({team})",
        text="Hello {recipient_name},\n\n{object_type} {record_id} was assigned to {owner_id} at {assigned_at} "
             "and not actioned within {sla_minutes} minutes. {action}\n",
        slack="SLA missed in {team}: {object_type} {record_id} (owner {owner_id}, {sla_minutes} min). {action}",
    ),
    "outbox_backlog": Template(
        subject="Baton: owners are waiting to reach Salesforce ({oldest_age})",
        text="Hello {recipient_name},\n\n{rows} owner changes Baton decided have not reached Salesforce yet; the "
             "oldest has waited {oldest_age} (alert after {threshold}). Baton keeps retrying them and writes them "
             "once Salesforce answers again; the flusher's log says why they wait.\n",
        slack="Baton: {rows} owner writes waiting for Salesforce, the oldest for {oldest_age} (alert after {threshold})",
    ),
    "booking": Template(
        subject="Meeting booked: {title}",
        text="Hello {recipient_name},\n\nA meeting was booked with you: {title}, {start} to {end}.\n",
        slack="{recipient_name}: meeting booked, {title}, {start} to {end}",
    ),
}


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with ``values`` filled in; a placeholder without a value is left as ``{name}``."""
    return string.Formatter().vformat(template, (), _Lenient(values))


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def load_templates(path: Path | None) -> dict[str, Template]:
    """The built-in templates, with what ``path`` (YAML: kind -> subject/text/slack) overrides."""
    templates = dict(DEFAULT_TEMPLATES)
    if path is None:
        return templates
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([("BATON_NOTIFY_TEMPLATES", f"cannot read {path}: {exc}")]) from None
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise ConfigError([(str(path), "expected a mapping of kind to subject/text/slack")])
    for kind, parts in data.items():
        where = f"{path}: {kind}"
        if kind not in DEFAULT_TEMPLATES:
            problems.append((where, f"unknown kind (use {', '.join(DEFAULT_TEMPLATES)})"))
            continue
        if not isinstance(parts, dict) or set(parts) - set(PARTS):
            problems.append((where, f"expected keys among {', '.join(PARTS)}"))
            continue
        try:
            for text in parts.values():
                list(string.Formatter().parse(str(text)))
        except ValueError as exc:
            problems.append((where, f"bad template: {exc}"))
            continue
        templates[kind] = replace(templates[kind], **{key: str(value) for key, value in parts.items()})
    if problems:
        raise ConfigError(problems)
    return templates
