"""What the booking and embedded-default window tests share: the Procfile's web process, a broker that
accepts TCP and never answers, and a pause that holds one booking stage right after it loaded its booking."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socket import socket
from typing import Any

import sqlalchemy as sa
from dramatiq.middleware import CurrentMessage
from sqlalchemy.engine import Engine

from tests.support.booking import booking_config
from tests.support.fake_notifications import free_port
from tests.support.services import REPO_ROOT

START_TIMEOUT_S = 60
SERVING = "Uvicorn running on"
BOOKING_LOAD = re.compile(r"^\s*SELECT\b.*\bFROM\s+(\S+\.)?bookings\s+WHERE\s+bookings\.id\b", re.S | re.I)


def procfile_web_command() -> str:
    """The Procfile's ``web`` line, run with this interpreter (so this checkout's code is what starts)."""
    line = next(line for line in (REPO_ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = line.split(":", 1)[1].strip()
    assert command.startswith("uvicorn "), command
    return f"exec {sys.executable} -m {command}"


@dataclass
class WebProcess:
    """The Procfile's web process in ``cwd`` under ``env`` (on ``BATON_HTTP_PORT``), in its own session."""

    env: dict[str, str]
    cwd: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['BATON_HTTP_PORT']}"

    def start(self) -> WebProcess:
        """Starts it and returns once uvicorn serves."""
        written = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(["sh", "-c", procfile_web_command()], cwd=self.cwd, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while SERVING not in self.log.read_text(errors="replace")[written:]:
            assert self.process.poll() is None and time.monotonic() < deadline, self.output()
            time.sleep(0.1)
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Sends ``sig`` (SIGKILL: as a crashed machine would) and waits for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def web_process(env: dict[str, str], cwd: Path) -> Iterator[WebProcess]:
    """A started web process (on a free port unless ``env`` names one), killed when the block ends."""
    web = WebProcess({"BATON_HTTP_PORT": str(free_port()), "PYTHONUNBUFFERED": "1", **env}, cwd,
                     cwd / "web.log").start()
    try:
        yield web
    finally:
        web.stop(signal.SIGKILL)


@dataclass
class SilentBroker:
    """Accepts TCP connections on 127.0.0.1 and never says a word (an AMQP peer that hangs)."""

    listener: socket = field(default_factory=socket)
    connections: list[socket] = field(default_factory=list)
    accepted: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.listener.getsockname()[1]}/%2F"

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self.accepted:
                self.connections.append(connection)
                self.accepted.notify_all()

    def wait_for_connection(self, after: int, timeout_s: float = 30) -> bool:
        """True once more than ``after`` connections were accepted."""
        with self.accepted:
            return self.accepted.wait_for(lambda: len(self.connections) > after, timeout_s)


@contextmanager
def silent_broker() -> Iterator[SilentBroker]:
    broker = SilentBroker()
    broker.listener.bind(("127.0.0.1", 0))
    broker.listener.listen(16)
    threading.Thread(target=broker.serve, daemon=True).start()
    try:
        yield broker
    finally:
        broker.listener.close()
        for connection in broker.connections:
            connection.close()


@dataclass
class StagePause:
    """Holds the first run of one booking stage right after it read its booking, until ``release``."""

    stage: str
    loaded: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def after_execute(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        message = CurrentMessage.get_current_message()
        if message is None or message.actor_name != self.stage or self.loaded.is_set():
            return
        if BOOKING_LOAD.match(statement):
            self.loaded.set()
            self.released.wait(60)
            self.finished.set()

    def release(self) -> None:
        self.released.set()


@contextmanager
def paused_after_load(engine: Engine, stage: str) -> Iterator[StagePause]:
    """The stage's first booking read answers, then the stage waits for ``release`` (PostgreSQL: the
    read holds no lock a cancel needs; SQLite's reads begin a write transaction, so it would)."""
    assert engine.dialect.name == "postgresql", "a paused read on SQLite holds the write lock"
    pause = StagePause(stage)
    sa.event.listen(engine, "after_cursor_execute", pause.after_execute)
    try:
        yield pause
    finally:
        pause.release()
        sa.event.remove(engine, "after_cursor_execute", pause.after_execute)


def bookable_start(now: datetime | None = None) -> datetime:
    """10:00 UTC on a weekday two to four days from now: inside the booking config's hours and horizon."""
    day = (now or datetime.now(UTC)).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def write_booking_config(folder: Path) -> Path:
    path = folder / "baton.yaml"
    path.write_text(booking_config())
    return path
