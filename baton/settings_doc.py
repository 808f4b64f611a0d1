"""Writes the settings reference (deploy/settings.md) from the Settings class, so it never drifts.

    python -m baton.settings_doc > deploy/settings.md
"""

from __future__ import annotations

import sys
import typing
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from baton.settings import Settings

# Meanings of settings declared without a description in baton/settings.py (kept apart to leave that file as is).
MEANINGS = {
    "log_level": "least severe log level written (stdout, JSON lines by default)",
    "log_format": "json for machines, console for people",
    "http_port": "port of the web process",
    "queue_prefix": "queue names are PREFIX.STAGE",
    "max_retries": "retries of a transient failure before a message is dead-lettered",
    "min_backoff_ms": "first retry backoff (doubles up to BATON_MAX_BACKOFF_MS)",
    "worker_threads": "threads of the embedded worker, and database connections per process",
}

HEADER = """# Settings reference

Every Baton process reads these `BATON_*` environment variables (pydantic-settings; unknown variables are
ignored). Generated from `baton/settings.py` by `python -m baton.settings_doc > deploy/settings.md`;
`tests/meta/test_deploy.py` fails when this file is out of date. In Kubernetes, non-secret settings go in the
`baton-settings` ConfigMap and credentials in the `baton-credentials` Secret (`deploy/kubernetes/config.yaml`).

| variable | type | default | meaning |
|---|---|---|---|
"""


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if args:
        return " or ".join(_type_name(arg) for arg in args)
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined or value is None:
        return "unset"
    if value == "":
        return "empty"
    return f"`{value}`"


def _row(name: str, field: FieldInfo) -> str:
    meaning = (field.description or MEANINGS.get(name, "")).replace("|", "\\|")
    return f"| `BATON_{name.upper()}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |"


def render() -> str:
    rows = [_row(name, field) for name, field in Settings.model_fields.items()]
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
