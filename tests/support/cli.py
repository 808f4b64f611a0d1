"""Runs ``python -m baton`` from this checkout, as an operator would, against one store; and keeps the test
process's logging as it was around a command run in-process (``typer.testing.CliRunner``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

REPO = Path(__file__).resolve().parents[2]


def run_baton(database_url: str, *args: str, cwd: Path | None = None,
              **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(BATON_DATABASE_URL=database_url, BATON_LOG_LEVEL="WARNING", PYTHONPATH=str(REPO))
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "baton", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def keep_logging_config() -> Iterator[None]:
    """A command run in-process configures logging for its own stderr; later tests get theirs back."""
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers
