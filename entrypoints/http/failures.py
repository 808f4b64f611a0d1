"""Failed authentications limited per client address, counted in the store so every web replica sees them.

A failure is a credential presented that did not verify: an unknown, revoked or expired bearer token, a Canvas
signed request, handoff link or page token refused (each a 401), or a wrong outbound path token (404). Once an
address made ``BATON_AUTH_FAILURES_PER_MINUTE`` of them in the current one-minute window, every request of it to
an endpoint taking credentials answers 429 with Retry-After (the seconds to the window's end) before its
credentials are looked at, so guessing stops; other addresses go on as before.

The client address is the TCP peer, unless the peer is one of ``BATON_TRUSTED_PROXIES``: then it is the
rightmost X-Forwarded-For entry that is not itself a trusted proxy (what the nearest trusted proxy saw; entries
left of it are whatever the client wrote). uvicorn runs with ``--no-proxy-headers`` so the peer it reports is
the real one and only this setting decides whom X-Forwarded-For is taken from.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence

import structlog
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from adapters.store.tokens import window_left
from baton.runtime import Runtime
from kernel.errors import TransientError

log = structlog.get_logger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ADDRESS = 64  # the store's column


def _normal(address: str) -> str:
    """An IP address in its one written form (an IPv4-mapped IPv6 address as IPv4); anything else as given."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:MAX_ADDRESS] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(_normal(address))
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str:
    """The address failures are counted for: ``peer`` unless it is a trusted proxy, then the rightmost entry of
    the X-Forwarded-For headers (in order) that is not a trusted proxy (the leftmost when all of them are)."""
    address = _normal(peer or "unknown")
    if not _trusted(address, proxies):
        return address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _normal(hop)
        if not _trusted(address, proxies):
            return address
    return address


def address_of(request: Request, runtime: Runtime) -> str:
    return client_address(request.client.host if request.client else None,
                          request.headers.getlist("x-forwarded-for"), runtime.settings.proxy_networks)


def refuse_blocked(request: Request, runtime: Runtime, store_optional: bool = False) -> None:
    """Raises the 429 (with Retry-After) when the request's address used up its failures of the minute, a 503
    when the store cannot tell, unless ``store_optional`` (the request carries a credential of the settings,
    checked without the store, so it goes on while the store is down)."""
    address, now, limit = address_of(request, runtime), runtime.ports.clock(), runtime.settings.auth_failures_per_minute
    try:
        count = runtime.ports.store.tokens.failures(address, now)
    except TransientError as exc:
        if store_optional:
            return
        raise HTTPException(503, f"cannot check the failed authentications now: {exc}") from None
    if count >= limit:
        wait_s = max(1, math.ceil(window_left(now)))
        log.warning("auth_failures_blocked", address=address, limit_per_minute=limit)
        raise HTTPException(429, f"too many failed authentications from {address} (at most {limit} a minute, "
                                 f"BATON_AUTH_FAILURES_PER_MINUTE): retry after {wait_s} s",
                            {"Retry-After": str(wait_s)})


def count_failure(request: Request, runtime: Runtime, credential: str) -> None:
    """Counts a failed authentication of the request's address when a ``credential`` was presented (a request
    without one guessed nothing). A store that cannot count leaves the answer as it is (logged)."""
    if not credential.strip():
        return
    address = address_of(request, runtime)
    try:
        count = runtime.ports.store.tokens.fail(address, runtime.ports.clock())
    except TransientError as exc:
        log.warning("auth_failure_not_counted", address=address, error=str(exc))
        return
    if count == runtime.settings.auth_failures_per_minute:
        log.warning("auth_failures_limit_reached", address=address, limit_per_minute=count)


async def guard(request: Request, runtime: Runtime, store_optional: bool = False) -> None:
    """``refuse_blocked`` off the event loop."""
    await run_in_threadpool(refuse_blocked, request, runtime, store_optional)


async def failed(request: Request, runtime: Runtime, credential: str) -> None:
    """``count_failure`` off the event loop."""
    await run_in_threadpool(count_failure, request, runtime, credential)
