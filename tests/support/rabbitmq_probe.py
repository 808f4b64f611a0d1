"""What the RabbitMQ node under test and this machine's processes say about live AMQP connections: which hold
unacknowledged messages right now (asked of the node itself, no management plugin), and which local ports and
processes own them (from /proc, no psutil)."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tests.support.service_control import RABBITMQ_NODE, rabbitmqctl

ERL_CALL = shutil.which("erl_call") or "/usr/lib/erlang/bin/erl_call"  # Debian's erlang-base puts it there
EVAL_ATTEMPTS = 4
EVAL_RETRY_S = 0.2


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
    try:
        answer = rabbitmq_eval(expression, timeout_s=within_s + 60)
    except (subprocess.SubprocessError, RuntimeError) as failure:  # the caller looks again at its next turn
        print(f"wait_for_unacked: the node did not answer: {failure}")
        return {}
    held: Counter[int] = Counter()
    for port, count in re.findall(r"\{(\d+),\s*(\d+)\}", answer):
        held[int(port)] += int(count)
    return dict(held)


def rabbitmq_eval(expression: str, timeout_s: float = 60) -> str:
    """Evaluates Erlang ``expression`` on the node under test with ``erl_call`` (milliseconds, where
    ``rabbitmqctl eval`` takes a second or more on a busy machine), run as the rabbitmq user as rabbitmqctl
    is, so it authenticates as rabbitmqctl does; the answer is the ``{ok, Value}`` line."""
    command = [ERL_CALL, "-n", rabbitmq_node(), "-e"]
    if os.getuid() == 0:
        command = ["su", "rabbitmq", "-s", "/bin/sh", "-c", shlex.join(command)]
    for attempt in range(1, EVAL_ATTEMPTS + 1):
        try:
            answer = subprocess.run(command, input=expression, check=True, capture_output=True, text=True,
                                    timeout=timeout_s).stdout
            break
        except subprocess.CalledProcessError:  # "failed to connect to node" now and then on a loaded machine
            if attempt == EVAL_ATTEMPTS:
                raise
            time.sleep(EVAL_RETRY_S * attempt)
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
