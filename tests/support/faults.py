"""What the fault tests inject, and how they count what came out.

- ``Services``: stops and starts the RabbitMQ node (``rabbitmqctl stop_app``/``start_app``) and restarts
  the PostgreSQL cluster (``pg_ctlcluster``) the tests use, and always waits until each answers again.
  Which node and cluster: ``BATON_TEST_RABBITMQ_NODE`` (default: rabbitmqctl's own default node) and
  ``BATON_TEST_POSTGRES_CLUSTER`` (``15/main``), so a developer can aim them at private instances while
  others use the machine's services.
- ``TcpProxy``: a TCP proxy on 127.0.0.1 between workers (and the publisher) and a service that can delay every
  chunk, cut (close) or reset (RST) every open connection or the ones a test picks, and refuse new ones for a
  while; it records whose live connections each cut or reset closed (``Severed``).
- ``wait_for_unacked`` and ``local_ports_to``: which AMQP connections hold unacknowledged messages right
  now (``rabbitmqctl``), and which of them a process owns (``/proc``).
- ``RunCounts``: sent, routed, written, duplicates, lost, dead-lettered, with the commit, date, duration and
  verdict of the run; printed by every test and recorded in the build folder's results file
  (``tests/support/reliability_doc.py``: never a tracked file), from which docs/reliability.md's table is
  published on request.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import select
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.reliability_doc import REPO_ROOT, load_results, results_file, save_results

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RABBITMQ_NODE = os.environ.get("BATON_TEST_RABBITMQ_NODE", "")
POSTGRES_CLUSTER = os.environ.get("BATON_TEST_POSTGRES_CLUSTER", "15/main")
ERL_CALL = shutil.which("erl_call") or "/usr/lib/erlang/bin/erl_call"  # Debian's erlang-base puts it there


def may_stop_services() -> bool:
    """Stopping RabbitMQ or PostgreSQL is allowed under CI=true, with BATON_TEST_STOP_SERVICES=1, or when the
    node and cluster to stop were named (private instances): never by accident on a shared machine."""
    return (os.environ.get("CI", "").lower() == "true" or os.environ.get("BATON_TEST_STOP_SERVICES") == "1"
            or bool(os.environ.get("BATON_TEST_RABBITMQ_NODE") and os.environ.get("BATON_TEST_POSTGRES_CLUSTER")))
SERVICE_WAIT_S = 120


def service_urls() -> tuple[str, str]:
    """(RabbitMQ URL, PostgreSQL URL) the tests and bench runs use: ``BATON_TEST_RABBITMQ_URL`` and
    ``BATON_TEST_POSTGRES_URL``, else the machine's services."""
    return (os.environ.get("BATON_TEST_RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
            os.environ.get("BATON_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def rabbitmqctl(*args: str, timeout_s: float = 60) -> str:
    node = ["-n", RABBITMQ_NODE] if RABBITMQ_NODE else []
    return subprocess.run(["rabbitmqctl", *node, *args], check=True, capture_output=True, text=True,
                          timeout=timeout_s).stdout


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def wait_for_port(host: str, port: int, timeout_s: float = SERVICE_WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s") from None
            time.sleep(0.2)


@dataclass
class Services:
    """The RabbitMQ node and PostgreSQL cluster under test, stopped and started on purpose."""

    rabbitmq_url: str
    postgres_url: str
    rabbitmq_stopped: bool = False
    postgres_stopped: bool = False

    def stop_rabbitmq(self) -> None:
        assert may_stop_services(), "stopping the machine's RabbitMQ needs CI=true or BATON_TEST_STOP_SERVICES=1"
        self.rabbitmq_stopped = True
        rabbitmqctl("stop_app")

    def start_rabbitmq(self) -> None:
        rabbitmqctl("start_app", timeout_s=SERVICE_WAIT_S)
        rabbitmqctl("await_startup", timeout_s=SERVICE_WAIT_S)
        wait_for_port(*host_port(self.rabbitmq_url, 5672))
        self.rabbitmq_stopped = False

    def _pg_ctl(self, action: str) -> None:
        version, name = POSTGRES_CLUSTER.split("/", 1)
        subprocess.run(["pg_ctlcluster", version, name, action, "-m", "fast"] if action != "start"
                       else ["pg_ctlcluster", version, name, action],
                       check=True, capture_output=True, text=True, timeout=SERVICE_WAIT_S)

    def stop_postgres(self) -> None:
        assert may_stop_services(), "stopping the machine's PostgreSQL needs CI=true or BATON_TEST_STOP_SERVICES=1"
        self.postgres_stopped = True
        self._pg_ctl("stop")

    def start_postgres(self) -> None:
        self._pg_ctl("start")
        self.wait_for_postgres()
        self.postgres_stopped = False

    def wait_for_postgres(self) -> None:
        import sqlalchemy as sa

        deadline = time.monotonic() + SERVICE_WAIT_S
        engine = sa.create_engine(self.postgres_url, pool_pre_ping=True)
        try:
            while True:
                try:
                    with engine.connect() as connection:
                        connection.exec_driver_sql("SELECT 1")
                    return
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            engine.dispose()

    def restore(self) -> None:
        """Whatever a test stopped is started again (also when it failed half-way)."""
        if self.rabbitmq_stopped:
            self.start_rabbitmq()
        if self.postgres_stopped:
            self.start_postgres()


@dataclass(eq=False)
class ProxiedConnection:
    """One client connection through a TcpProxy: ``label`` names the entrance it came in by, ``upstream_port``
    is its port as the service sees it (RabbitMQ's ``peer_port``)."""

    client: socket.socket
    upstream: socket.socket
    label: str
    upstream_port: int


@dataclass(frozen=True)
class Severed:
    """One cut (FIN) or reset (RST) by a TcpProxy: how many live connections it closed and whose: the
    publisher's, and consumers whose channels held unacknowledged messages just before (and how many)."""

    kind: str
    connections: int
    publishers: int = 0
    consumers_with_unacked: int = 0
    unacked: int = 0


PUBLISHER = "publisher"


class TcpProxy:
    """127.0.0.1:<port> forwarding to ``target``; faults apply to every connection through it, or to the
    ones a caller picks. Extra entrances (``entrance(label)``) label their connections, so a fault can pick
    the publisher's. Every cut and reset is kept in ``severed``."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.delay_s = 0.0
        self.refusing = False
        self.severed: list[Severed] = []
        self.accepted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._connections: list[ProxiedConnection] = []
        self._closed = threading.Event()
        self._listeners: list[socket.socket] = []
        self.port = self.entrance("")

    def entrance(self, label: str) -> int:
        """A new listening port whose connections carry ``label``."""
        listener = socket.create_server(("127.0.0.1", 0))
        self._listeners.append(listener)
        port: int = listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(listener, label), daemon=True, name=f"proxy-{port}").start()
        return port

    @property
    def cuts(self) -> int:
        return sum(s.connections for s in self.severed if s.kind == "cut")

    @property
    def resets(self) -> int:
        return sum(s.connections for s in self.severed if s.kind == "reset")

    def url_for(self, url: str, port: int | None = None) -> str:
        """``url`` with its host and port replaced by the proxy's (or by one of its entrances)."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        address = f"127.0.0.1:{port or self.port}"
        return parts._replace(netloc=f"{netloc[0]}@{address}" if len(netloc) == 2 else address).geturl()

    def connections(self) -> list[ProxiedConnection]:
        with self._lock:
            return list(self._connections)

    def _accept(self, listener: socket.socket, label: str) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.refusing:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            connection = ProxiedConnection(client, upstream, label, upstream.getsockname()[1])
            with self._lock:
                self._connections.append(connection)
                self.accepted[label] += 1
            threading.Thread(target=self._pump, args=(connection,), daemon=True).start()

    def _pump(self, connection: ProxiedConnection) -> None:
        client, upstream = connection.client, connection.upstream
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if self.delay_s:
                        time.sleep(self.delay_s)
                    peers[source].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._forget([connection])
            for sock in (client, upstream):
                _close(sock)

    def _forget(self, connections: list[ProxiedConnection]) -> list[ProxiedConnection]:
        """Those of ``connections`` still open, now no longer tracked."""
        with self._lock:
            taken = [c for c in connections if c in self._connections]
            self._connections = [c for c in self._connections if c not in taken]
        return taken

    def _sever(self, kind: str, close: Callable[[socket.socket], None],
               only: Callable[[ProxiedConnection], bool] | None, unacked: Mapping[int, int]) -> Severed:
        taken = self._forget([c for c in self.connections() if only is None or only(c)])
        for connection in taken:
            close(connection.client)
            close(connection.upstream)
        holding = [unacked[c.upstream_port] for c in taken if unacked.get(c.upstream_port, 0) > 0]
        severed = Severed(kind, len(taken), sum(1 for c in taken if c.label == PUBLISHER), len(holding), sum(holding))
        self.severed.append(severed)
        return severed

    def cut(self, only: Callable[[ProxiedConnection], bool] | None = None,
            unacked: Mapping[int, int] | None = None) -> Severed:
        """Closes every open connection (or those ``only`` picks) cleanly (FIN), as a restarted load balancer
        would. ``unacked``: unacknowledged messages by upstream port just before, for the record."""
        return self._sever("cut", _close, only, unacked or {})

    def reset(self, only: Callable[[ProxiedConnection], bool] | None = None,
              unacked: Mapping[int, int] | None = None) -> Severed:
        """Resets every open connection (or those ``only`` picks) (RST), as a dropped NAT entry or a crashed
        peer would."""
        return self._sever("reset", _reset, only, unacked or {})

    @contextmanager
    def refused(self) -> Iterator[None]:
        """New connections are reset on arrival while inside."""
        self.refusing = True
        try:
            yield
        finally:
            self.refusing = False

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners:
            _close(listener)
        self.cut()


# Evaluated inside the RabbitMQ node: polls every 20 ms, until WITHIN_MS passed, for channels consuming a queue
# named PREFIX... that hold unacknowledged messages; answers [{PeerPort, Unacked}] for their connections.
WAIT_FOR_UNACKED = """
Prefix = <<"PREFIX">>,
Wait = fun Loop(Deadline) ->
    Ours = lists:usort([proplists:get_value(channel_pid, C) || C <- rabbit_amqqueue:consumers_all(<<"VHOST">>),
                        binary:match(element(4, proplists:get_value(queue_name, C)), Prefix)
                            =:= {0, byte_size(Prefix)}]),
    Infos = [I || Ch <- Ours, I <- [catch rabbit_channel:info(Ch, [connection, messages_unacknowledged])], is_list(I)],
    Held = [{proplists:get_value(connection, I), proplists:get_value(messages_unacknowledged, I)}
            || I <- Infos, proplists:get_value(messages_unacknowledged, I) > 0],
    case Held =/= [] orelse erlang:monotonic_time(millisecond) > Deadline of
        false -> timer:sleep(20), Loop(Deadline);
        true ->
            Ports = maps:from_list([{proplists:get_value(pid, C), proplists:get_value(peer_port, C)}
                                    || C <- rabbit_networking:connection_info_all([pid, peer_port])]),
            [{maps:get(Conn, Ports), N} || {Conn, N} <- Held, maps:is_key(Conn, Ports)]
    end
end,
Wait(erlang:monotonic_time(millisecond) + WITHIN_MS).
"""


def wait_for_unacked(prefix: str, within_s: float, vhost: str = "/") -> dict[int, int]:
    """Unacknowledged messages held by the connections consuming queues named ``prefix``.*, keyed by the
    connection's client port as RabbitMQ sees it (``peer_port``), as soon as any holds some (the node itself
    looks every 20 ms; no management plugin needed), or {} after ``within_s``. A kill or cut right after the
    answer meets a connection that held them an instant before."""
    expression = (WAIT_FOR_UNACKED.replace("PREFIX", prefix + ".").replace("VHOST", vhost)
                  .replace("WITHIN_MS", str(int(within_s * 1000))))
    held: Counter[int] = Counter()
    for port, count in re.findall(r"\{(\d+),\s*(\d+)\}", rabbitmq_eval(expression, timeout_s=within_s + 60)):
        held[int(port)] += int(count)
    return dict(held)


def rabbitmq_eval(expression: str, timeout_s: float = 60) -> str:
    """Evaluates Erlang ``expression`` on the node under test with ``erl_call`` (milliseconds, where
    ``rabbitmqctl eval`` takes a second or more on a busy machine), run as the rabbitmq user as rabbitmqctl
    is, so it authenticates as rabbitmqctl does; the answer is the ``{ok, Value}`` line."""
    command = [ERL_CALL, "-n", rabbitmq_node(), "-e"]
    if os.getuid() == 0:
        command = ["su", "rabbitmq", "-s", "/bin/sh", "-c", shlex.join(command)]
    answer = subprocess.run(command, input=expression, check=True, capture_output=True, text=True,
                            timeout=timeout_s).stdout
    if not answer.startswith("{ok,"):
        raise RuntimeError(f"erl_call answered {answer!r} to {expression}")
    return answer


@functools.cache
def rabbitmq_node() -> str:
    """The full name of the node under test (``BATON_TEST_RABBITMQ_NODE``, else rabbitmqctl's default)."""
    return RABBITMQ_NODE or rabbitmqctl("eval", "node().").strip()


def local_ports_to(pids: Iterable[int], remote_port: int) -> set[int]:
    """The local ports of the TCP connections the processes ``pids`` hold to 127.0.0.1:``remote_port``
    (from /proc: no psutil here)."""
    inodes = {target[8:-1] for target in (_link(fd) for pid in pids for fd in _fds(pid))
              if target.startswith("socket:[")}
    ports: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def _fds(pid: int) -> list[Path]:
    try:
        return list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process is gone
        return []


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed meanwhile
        return ""


def process_group(leader: int) -> list[int]:
    """The pids in process group ``leader`` (a ServiceProcess and the children it forked)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:
            pids.append(int(stat.parent.name))
    return pids


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def current_commit() -> str:
    """``git rev-parse HEAD`` of this checkout, with ``+dirty`` when its tree has changes; ``unknown``
    outside a git checkout."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunCounts:
    """What one fault run sent and what came out; ``lost``, ``duplicates`` and ``dead_lettered`` must be 0.

    Creating one starts the run: it stamps the commit and date and records a row with ``passed`` false, so
    a run that is killed or times out is recorded as failed. ``passed`` stays None until a verdict: the
    fault tests' hook (``tests/fault/conftest.py``) gives the test's outcome, a bench sets it itself.
    """

    test: str
    load: str
    faults: str
    sent: int = 0
    routed: int = 0
    written: int = 0
    duplicates: int = 0
    lost: int = 0
    dead_lettered: int = 0
    bookings: int = 0
    bookings_confirmed: int = 0
    bookings_failed_cleanly: int = 0
    bookings_left_behind: int = 0
    wrong_owners: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    details: str = ""
    injected: dict[str, int] = field(default_factory=dict)
    figures: dict[str, float | int | None] = field(default_factory=dict)
    commit: str = ""
    date: str = ""
    duration_s: float | None = None
    passed: bool | None = None
    _began: float = field(default_factory=time.monotonic, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.commit = self.commit or current_commit()
        self.date = self.date or utc_timestamp()
        AWAITING_VERDICT.append(self)
        _store(self)

    def row(self) -> dict[str, object]:
        """The results file's row: every public field, ``passed`` false until a verdict says otherwise."""
        row = {key: value for key, value in asdict(self).items() if not key.startswith("_")}
        return {**row, "passed": bool(self.passed)}

    def take(self, row: dict[str, object]) -> None:
        """Takes the counts and figures of a row another process recorded (its provenance stays this run's)."""
        for key in ("load", "faults", *COUNTED, "injected", "figures"):
            if key in row:
                setattr(self, key, row[key])

    def line(self) -> str:
        figures = {key: value for key, value in self.row().items() if key not in ("test", "load", "faults")}
        return f"{self.test}: " + json.dumps(figures)


COUNTED = ("sent", "routed", "written", "duplicates", "lost", "dead_lettered", "bookings", "bookings_confirmed",
           "bookings_failed_cleanly", "bookings_left_behind")
AWAITING_VERDICT: list[RunCounts] = []


def _store(counts: RunCounts) -> None:
    counts.duration_s = round(time.monotonic() - counts._began, 1)
    path = results_file()
    results = load_results(path)
    results[counts.test] = counts.row()
    save_results(results, path)


def record_run(counts: RunCounts) -> None:
    """Records the counts in the build folder's results file (never a tracked file) and prints them."""
    _store(counts)
    print(counts.line())


def judged(counts: RunCounts, check: Callable[[RunCounts], None]) -> RunCounts:
    """Sets ``passed`` from ``check`` (which asserts), for a bench that records its own verdict."""
    try:
        check(counts)
    except AssertionError as failure:
        print(f"{counts.test}: FAILED {failure}")
        counts.passed = False
    else:
        counts.passed = True
    return counts


def give_verdict(passed: bool) -> None:
    """Records every run started since the last verdict as passed or failed, with what it counted."""
    while AWAITING_VERDICT:
        counts = AWAITING_VERDICT.pop()
        counts.passed = passed
        _store(counts)


def periodically(every_s: float, action: Callable[[], object], stop: threading.Event) -> threading.Thread:
    """Runs ``action`` every ``every_s`` until ``stop`` is set, in a daemon thread."""

    def loop() -> None:
        while not stop.wait(every_s):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread
