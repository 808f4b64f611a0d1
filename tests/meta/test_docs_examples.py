"""The README's and the configuration reference's config examples stay valid: every YAML block that is a whole
config passes `baton check`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from routing.config import load_config_text, parse_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "docs" / "configuration.md")
BLOCKS = [
    block
    for doc in DOCS
    for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
]


def test_example_org_config_is_valid() -> None:
    config = load_config_text((ROOT / "examples" / "org.yaml").read_text())
    assert {team.name for team in config.teams} == {"Inbound", "EMEA", "Enterprise"}


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lstrip().startswith("teams:")])
def test_readme_team_example_is_valid(block: str) -> None:
    data = yaml.safe_load(block)
    data.setdefault("default_team", data["teams"][0]["name"])
    parse_config(data)


def test_readme_has_team_examples() -> None:
    assert any(b.lstrip().startswith("teams:") for b in BLOCKS)
