"""Operations endpoints of the web process: ``/healthz`` (the event loop answers) and ``/readyz`` (broker and
database reachable), open to all; ``/metrics`` (a token with scope ``metrics:read``); ``/openapi.json`` (any valid
token).
(No postponed annotations: FastAPI reads the endpoints' signatures.)"""

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from baton.operations.metrics.exposition import CONTENT_TYPE, metrics_text
from baton.operations.readiness import readiness
from entrypoints.http.auth import METRICS_READ, requires
from entrypoints.http.dependencies import RuntimeDep

router = APIRouter()


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the broker and the database answer; 503 naming what is down otherwise."""
    checks = await run_in_threadpool(readiness, runtime)
    down = [check.name for check in checks if not check.ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/metrics", dependencies=[Depends(requires(METRICS_READ))])
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus exposition: Baton's and dramatiq's metrics in this process, plus the store's gauges."""
    text = await run_in_threadpool(metrics_text, lambda: runtime.ports.store)
    return Response(text, media_type=CONTENT_TYPE)


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(requires(None))])
def openapi_spec(request: Request) -> JSONResponse:
    """The OpenAPI spec, for any caller with a valid token (it maps the attack surface)."""
    return JSONResponse(request.app.openapi())


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: answered on the event loop itself, so it needs no thread of the pool (which blocked publishes or
    Salesforce calls may all be holding) and says whether the loop runs."""
    return {"status": "ok"}
