"""What routes are handed through FastAPI dependencies: the runtime the app factory put on ``app.state``
(settings, broker, ports) and the app's Salesforce readers.
(No postponed annotations: FastAPI reads the dependencies' signatures.)"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from baton.ports import Ports
from baton.runtime import Runtime
from baton.settings import Settings
from entrypoints.http.readers import SalesforceReaders

RuntimeSource = Callable[[], Runtime]


def provide(app: FastAPI, runtime: Runtime | RuntimeSource, readers: SalesforceReaders) -> None:
    """Puts the runtime on the app: a ``Runtime``, or the function giving the one in force at each request."""
    app.state.runtime_source = (lambda: runtime) if isinstance(runtime, Runtime) else runtime
    app.state.readers = readers


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime_source()


def settings_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> Settings:
    return runtime.settings


def ports_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> Ports:
    return runtime.ports


def readers_of(request: Request) -> SalesforceReaders:
    return request.app.state.readers


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
PortsDep = Annotated[Ports, Depends(ports_of)]
ReadersDep = Annotated[SalesforceReaders, Depends(readers_of)]
