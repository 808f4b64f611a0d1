"""The Salesforce HTTP session: every call ends after its timeout, so an unanswered call becomes an unknown
outcome rather than a wait for as long as the peer keeps the connection; and which failures are transient (the
owner write waits and is tried again) and which are permanent (dead-lettered at once), each answer as the fake
org sends it, through the real owner writer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from adapters.salesforce.session import UNREACHABLE, http_session, is_transient, typed_error
from adapters.salesforce.writer import SalesforceOwnerWriter
from entrypoints.demo.fake_salesforce import fake_salesforce
from kernel.errors import TransientError
from kernel.ports import OwnerChange, WriteResult

CHANGE = OwnerChange("r-1", "Lead", "00Q000000000001AAA", "005000000000001AAA")


@pytest.mark.parametrize(("status", "codes", "transient"), [
    (500, [], True), (502, [], True), (503, ["SERVER_UNAVAILABLE"], True), (504, [], True), (507, [], True),
    (429, [], True), (408, [], True), (401, ["INVALID_SESSION_ID"], True),
    (403, ["REQUEST_LIMIT_EXCEEDED"], True), (400, ["UNABLE_TO_LOCK_ROW"], True),
    (400, ["INVALID_FIELD"], False), (403, ["INSUFFICIENT_ACCESS"], False), (404, ["NOT_FOUND"], False),
])
def test_an_answer_is_transient_for_5xx_429_and_busy_or_limited_org_codes(status: int, codes: list[str],
                                                                          transient: bool) -> None:
    assert is_transient(status, codes) is transient


def write_after(status: int) -> WriteResult:
    """The owner write's result when the fake org answers the sObject Collections call with ``status``."""
    with fake_salesforce() as (org, client):
        org.fail_next_calls(status)
        [result] = SalesforceOwnerWriter(client).write([CHANGE])
    return result


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 403])
def test_a_call_answered_5xx_429_or_request_limit_exceeded_is_retried(status: int) -> None:
    result = write_after(status)

    assert (result.ok, result.status) == (False, "retry")
    assert str(status) in (result.error or "")


@pytest.mark.parametrize("status", [400, 404])
def test_a_call_refused_for_another_reason_fails_for_good(status: int) -> None:
    result = write_after(status)

    assert (result.ok, result.status) == (False, "failed")
    assert f"({status})" in (result.error or "")


def test_a_record_locked_is_retried_and_a_record_refused_is_rejected() -> None:
    other = OwnerChange("r-2", "Lead", "00Q000000000002AAA", "005000000000001AAA")
    with fake_salesforce() as (org, client):
        org.fail_record(CHANGE.record_id, "UNABLE_TO_LOCK_ROW")
        org.fail_record(other.record_id, "INVALID_CROSS_REFERENCE_KEY")
        locked, refused = SalesforceOwnerWriter(client).write([CHANGE, other])

    assert (locked.ok, locked.status) == (False, "retry") and locked.error.startswith("UNABLE_TO_LOCK_ROW")
    assert (refused.ok, refused.status) == (True, "rejected")


def test_a_connection_dropped_after_the_request_is_retried_as_an_unknown_outcome() -> None:
    with fake_salesforce() as (org, client):
        org.answers_to_drop = 1
        [result] = SalesforceOwnerWriter(client).write([CHANGE])

    assert (result.ok, result.status) == (False, "retry")
    assert (result.error or "").startswith(UNREACHABLE)
    assert org.owners == {CHANGE.record_id: CHANGE.owner_id}  # carried out: hence read back before a resend


def test_salesforce_refusing_connections_is_retried() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = Salesforce(instance_url=f"https://127.0.0.1:{port}", session_id="session")

    [result] = SalesforceOwnerWriter(client).write([CHANGE])

    assert (result.ok, result.status) == (False, "retry")
    assert (result.error or "").startswith(UNREACHABLE)


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
