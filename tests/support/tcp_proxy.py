"""A TCP proxy on 127.0.0.1 between Baton's processes (and the test's publisher) and a service: it can delay
every chunk, cut (FIN) or reset (RST) every open connection or the ones a test picks, and refuse new ones for a
while, and it records whose live connections each cut or reset closed (``Severed``)."""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit


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
