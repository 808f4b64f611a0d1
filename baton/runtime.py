"""The application object the composition root (``baton.bootstrap``) builds from settings: settings, broker and
ports. It is handed to whatever needs it — the stage actors (``baton.actors``), the web app (``create_app``), the
CLI commands — and never looked up: there is no process-wide current application."""

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
