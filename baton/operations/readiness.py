"""Readiness: can this process reach its broker and its database right now?"""

from __future__ import annotations

from dataclasses import dataclass

import pika
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from baton import runtime

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database(current: runtime.Runtime) -> Check:
    engine = current.ports.store.engine
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 (any failure means not ready; the detail names it)
        return Check("database", False, f"{engine.url.render_as_string(hide_password=True)}: "
                                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return Check("database", True, f"{engine.dialect.name} reachable")


def check_broker(current: runtime.Runtime) -> Check:
    if isinstance(current.broker, StubBroker):
        return Check("broker", True, "in-process broker")
    parameters = pika.URLParameters(current.settings.broker_url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = CHECK_TIMEOUT_S
    parameters.stack_timeout = CHECK_TIMEOUT_S
    parameters.blocked_connection_timeout = CHECK_TIMEOUT_S
    where = f"{parameters.host}:{parameters.port}"
    try:
        connection = pika.BlockingConnection(parameters)
    except Exception as exc:  # noqa: BLE001 (any failure means not ready; the detail names it)
        return Check("broker", False, f"RabbitMQ at {where}: {type(exc).__name__}: {exc}".rstrip(": "))
    connection.close()
    return Check("broker", True, f"RabbitMQ at {where} reachable")


def readiness(current: runtime.Runtime) -> list[Check]:
    return [check_broker(current), check_database(current)]
