"""The Salesforce HTTP session: every call ends after its timeout, so an unanswered call becomes an unknown
outcome rather than a wait for as long as the peer keeps the connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from adapters.salesforce.session import UNREACHABLE, http_session, typed_error
from kernel.errors import TransientError


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A listening socket that takes connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/services/data/v61.0/composite/sobjects"


def test_a_call_without_its_own_timeout_ends_after_the_sessions(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(requests.Timeout) as raised:
        http_session(0.3).patch(silent_server, json={"records": []})
    assert time.monotonic() - started < 5
    error = typed_error(raised.value, "the sObject Collections call")
    assert isinstance(error, TransientError) and str(error).startswith(UNREACHABLE)


def test_a_callers_own_timeout_wins(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        http_session(60).get(silent_server, timeout=0.3)
    assert time.monotonic() - started < 5


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        http_session(0)
