"""Operations endpoints of the web process: ``/readyz`` (broker and database reachable, open like ``/healthz``)
and ``/metrics`` (a token with scope ``metrics:read``)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from baton import runtime
from baton.metrics.exposition import CONTENT_TYPE, metrics_text
from baton.readiness import readiness
from entrypoints.http.auth import METRICS_READ, requires


def operations_router(current: Callable[[], runtime.Runtime] = runtime.current) -> APIRouter:
    router = APIRouter()

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when the broker and the database answer; 503 naming what is down otherwise."""
        checks = await run_in_threadpool(readiness, current())
        down = [check.name for check in checks if not check.ok]
        body = {
            "status": "ok" if not down else "unavailable",
            "down": down,
            "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
        }
        return JSONResponse(body, status_code=503 if down else 200)

    @router.get("/metrics", dependencies=[Depends(requires(METRICS_READ, current))])
    async def metrics() -> Response:
        """Prometheus exposition: Baton's and dramatiq's metrics in this process, plus the store's gauges."""
        state = current()
        text = await run_in_threadpool(metrics_text, lambda: state.ports.store)
        return Response(text, media_type=CONTENT_TYPE)

    return router
