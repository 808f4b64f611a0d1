"""The lock files pin every dependency of pyproject.toml, each with hashes, at a version the range allows: a
dependency added or narrowed without re-locking fails here (regenerate with the pip-compile command
in docs/security.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)")


def pins(lock: Path) -> dict[str, tuple[Version, int]]:
    """Package -> (pinned version, number of hashes) from a pip-compile --generate-hashes file."""
    found: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            found[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
    return found


def declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    if extra:
        requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return requirements


@pytest.mark.parametrize(("lock", "extra"), [("requirements.lock", None), ("requirements-test.lock", "test")])
def test_every_dependency_is_pinned_with_hashes_within_its_range(lock: str, extra: str | None) -> None:
    pinned = pins(ROOT / lock)

    assert pinned and all(hashes >= 1 for _, hashes in pinned.values()), f"{lock}: a pin without --hash"
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock}: {requirement.name} is not locked"
        assert requirement.specifier.contains(pinned[name][0], prereleases=True), (
            f"{lock}: {requirement.name} {pinned[name][0]} is outside {requirement.specifier}")
