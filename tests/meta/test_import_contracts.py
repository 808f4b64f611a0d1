"""The layer rules hold (import-linter, configured in pyproject.toml): entry points and the worker entry above
the application, the application above adapters, adapters above messages, messages above the pure core
(``routing``), the kernel (errors, owner-writing ports, clock) at the bottom; no package imports ``tests``; no
import cycles between the modules of a package. ``lint-imports`` also runs in .ci/run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept() -> None:
    command = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    ran = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert "0 broken" in ran.stdout


def test_the_contracts_cover_the_layers_the_tests_and_cycles() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = {contract["type"]: contract for contract in config["contracts"]}
    assert contracts["layers"]["layers"] == ["entrypoints | workers", "baton", "adapters", "messages", "routing",
                                             "kernel"]
    assert contracts["forbidden"]["forbidden_modules"] == ["tests"]
    assert set(contracts["acyclic_siblings"]["ancestors"]) >= {"baton", "adapters", "routing", "entrypoints"}
