"""CI tests what a deployment runs: the README's test command, `.ci/run` and the image install the locked
dependencies checked against their hashes, then the project without resolving anything else, and the test
lock pins every runtime package exactly as the runtime lock does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN_WITH_HASHES = re.compile(r"^\S+==\S+ \\\n(?:\s+--hash=sha256:\w+(?: \\)?\n)+", re.MULTILINE)


def readme_test_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("Run the tests", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()


def test_the_test_lock_pins_every_runtime_package_with_the_same_version_and_hashes() -> None:
    runtime = PIN_WITH_HASHES.findall((ROOT / "requirements.lock").read_text())
    test_lock = (ROOT / "requirements-test.lock").read_text()

    assert runtime and [pin for pin in runtime if pin not in test_lock] == []


def test_the_readme_installs_the_test_lock_with_hashes_then_the_project_without_dependencies() -> None:
    commands = " ".join(readme_test_commands())

    assert "pip install --require-hashes -r requirements-test.lock" in commands
    assert "pip install --no-deps -e ." in commands and "pip check" in commands
    assert re.findall(r"pip install(?! --require-hashes| --no-deps)", commands) == []


def test_ci_runs_the_readmes_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text().replace(" -q", "")

    assert all(command in ci.splitlines() for command in readme_test_commands()), readme_test_commands()


def test_the_image_installs_the_runtime_lock_with_hashes_then_the_project_without_dependencies() -> None:
    installs = re.findall(r"pip install[^&\n]*", (ROOT / "deploy" / "Dockerfile").read_text())

    assert [command.split("--no-cache-dir ")[1].strip() for command in installs] == [
        "--require-hashes -r requirements.lock", "--no-deps ."]
