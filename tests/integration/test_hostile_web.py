"""The Procfile's web process under a 100 MB upload (issue 20): the Canvas endpoint and a bearer-token endpoint
stop reading at the limit and answer 413, and the process's peak memory does not grow by the upload's size (on
the code before, the Canvas endpoint buffered the whole body, +200 MB, before its 401)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.booking_races import WebProcess, web_process, write_booking_config
from tests.support.handoff import PAGE_SECRET
from tests.support.outbound import ORG
from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.integration
UPLOAD_BYTES = 100 * 1024 * 1024
CHUNK = 256 * 1024
PEAK_GROWTH_ALLOWED_KIB = 40 * 1024  # well under the 100 MB a buffered upload costs


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for process {pid}")


def chunked_upload(url: str, path: str, headers: dict[str, str], size: int) -> bytes:
    """POSTs ``size`` bytes with chunked transfer encoding over a raw socket while another thread reads
    the answer as it comes (so an early refusal is seen even if the server closes before the upload ends);
    returns what the server sent back."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=120)
    answer = bytearray()

    def read() -> None:
        try:
            while data := connection.recv(65536):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    chunk = f"{CHUNK:x}\r\n".encode() + b"a" * CHUNK + b"\r\n"
    try:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n{head}\r\n".encode())
        for _ in range(size // CHUNK):
            connection.sendall(chunk)
        connection.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server refused and closed while the upload was still going
    try:
        connection.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    reader.join(timeout=120)
    connection.close()
    return bytes(answer)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebProcess]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    env.update(PYTHONPATH=str(REPO_ROOT), BATON_LOG_LEVEL="INFO", BATON_SALESFORCE_ORG_IDS=ORG,
               BATON_CONFIG=str(write_booking_config(tmp_path)), BATON_CANVAS_CONSUMER_SECRET="canvas-secret",
               BATON_PAGE_TOKEN_SECRET=PAGE_SECRET, BATON_SALESFORCE_MY_DOMAIN="example",
               BATON_EVENTS_TOKEN="events-token-for-the-upload-test")
    with web_process(env, tmp_path) as started:
        yield started


@pytest.mark.parametrize(("path", "headers"), [
    ("/handoff/canvas", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("/salesforce/events", {"Content-Type": "application/json",
                            "Authorization": "Bearer events-token-for-the-upload-test"}),
], ids=["canvas", "events"])
def test_a_100_mb_upload_is_refused_at_the_limit_without_being_held(
        web: WebProcess, path: str, headers: dict[str, str]) -> None:
    assert web.process is not None
    assert requests.get(f"{web.url}/healthz", timeout=30).status_code == 200
    before = peak_rss_kib(web.process.pid)

    answer = chunked_upload(web.url, path, headers, UPLOAD_BYTES)

    grown = peak_rss_kib(web.process.pid) - before
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"limit" in answer
    assert grown < PEAK_GROWTH_ALLOWED_KIB, f"peak memory grew by {grown} KiB during a 100 MB upload"
    assert requests.get(f"{web.url}/healthz", timeout=30).status_code == 200
