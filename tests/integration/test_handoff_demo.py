"""``baton demo``: one command starts Baton with the fake Salesforce and Calendar servers and seed data and
prints the handoff page's URL, which opens the page for the seeded lead."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time

import requests

from tests.support.services import REPO_ROOT

STARTUP_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_baton_demo_prints_a_url_that_opens_the_handoff_page_for_the_seeded_lead() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "baton", "demo", "--port", str(free_port())],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        deadline = time.monotonic() + STARTUP_S
        url = ""
        while not url and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=1):
                url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url

        page = requests.get(url, timeout=30)

        assert page.status_code == 200
        assert "Book a handover for Pat Prospect" in page.text and 'class="slot"' in page.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
