"""What the composition root chose for this process: settings, broker and ports."""

from __future__ import annotations

from dataclasses import dataclass

from dramatiq import Broker

from baton.ports import Ports
from baton.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    broker: Broker
    ports: Ports


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("Baton is not bootstrapped: call baton.bootstrap.bootstrap() first")
    return _current


def installed() -> bool:
    return _current is not None
