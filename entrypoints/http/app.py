"""The web process: the app factory, which puts the runtime on ``app.state`` and adds each route module's
router (booking API, handoff page, operations, record reassign, the admin API, pull queues, Salesforce in). On the embedded default the
process also does the work it accepts: it drains the store's inbox (``baton.embedded``) while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from baton.runtime import Runtime
from entrypoints.http import (
    booking_changes,
    bookings,
    handoff,
    members,
    operations,
    pulls,
    records,
    salesforce,
)
from entrypoints.http.body import BoundedBodies
from entrypoints.http.dependencies import RuntimeSource, provide
from entrypoints.http.readers import Login, SalesforceReaders

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(runtime_source: Runtime | RuntimeSource, salesforce_login: Login | None = None,
               lifespan: Lifespan | None = None) -> FastAPI:
    """The app over ``runtime_source`` (a ``Runtime``, or the function giving the one in force at each
    request). ``salesforce_login`` gives the session that re-reads records named by gap and platform events
    (default: the connected app in the settings); ``lifespan`` runs beside the app from its start to its
    shutdown."""
    app = FastAPI(title="Baton", description="Salesforce record routing", version="0.1.0",
                  openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    provide(app, runtime_source, SalesforceReaders(salesforce_login))
    app.add_middleware(BoundedBodies, limit=lambda: app.state.runtime_source().settings.max_request_bytes)
    _add_routes(app, bookings.router)
    _add_routes(app, booking_changes.router)
    _add_routes(app, handoff.router)
    app.mount("/handoff/static", StaticFiles(directory=str(handoff.STATIC)), name="handoff-static")
    _add_routes(app, operations.router)
    _add_routes(app, records.router)
    _add_routes(app, members.router)
    _add_routes(app, pulls.router)
    _add_routes(app, salesforce.router)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes as the app's own, each listed in ``app.routes`` (an included router is listed as one
    entry): every API endpoint there, so a test can see that each one asks for a token."""
    app.router.routes.extend(router.routes)


def create_app_from_env() -> FastAPI:
    """uvicorn --factory entry point: bootstraps Baton from BATON_* settings. Without a broker URL (the embedded
    default) every message is stored in the inbox before the Ack or 202, and this process drains it. Refuses to
    start (ConfigError naming the settings) when the handoff page's framing is not safely configured."""
    from baton.bootstrap import bootstrap
    from baton.framing import check_framing
    from baton.inbox import InboxBroker
    from baton.logging import redact_access_log
    from baton.settings import Settings

    settings = Settings()
    check_framing(settings)
    application = bootstrap(settings, inbox=True)
    redact_access_log()
    embedded = isinstance(application.broker, InboxBroker)
    return create_app(application, lifespan=draining_inbox(application) if embedded else None)


def draining_inbox(application: Runtime) -> Lifespan:
    """The embedded default's work beside the app: drains the inbox (or stands by) from start to shutdown."""
    from baton.embedded import EmbeddedWork

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        work = EmbeddedWork(application)
        await asyncio.to_thread(work.start)
        try:
            yield
        finally:
            await asyncio.to_thread(work.stop)

    return lifespan
