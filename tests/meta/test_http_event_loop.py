"""No blocking I/O on the web process's event loop (issue 19, window 8): an ``async def`` in ``entrypoints/http``
touches no port (broker, store, Salesforce, calendar) except to hand it to a thread (``run_in_threadpool`` or one of
the modules' wrappers of it), and calls no function of ``entrypoints/http`` that does.

What counts is read from the source (AST): an attribute named after a blocking port (``runtime.broker``,
``ports.store``, ``ports.calendar``, ...), a call of the Salesforce readers (``readers.get``), or a call of a sync
function of these modules that (itself or through others) does either. Whatever sits inside the arguments of an
offloading call, or in a lambda or nested function (run where it is handed), is not on the loop. A sync ``def``
route is run in FastAPI's thread pool and may block.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import REPO_ROOT

HTTP = REPO_ROOT / "entrypoints" / "http"
PORT_ATTRIBUTES = {  # what reaches a blocking port from the runtime, its ports or a repository
    "broker", "store", "configs", "owner_writer", "sink", "reference", "reference_updates", "calendar",
    "salesforce_events", "bookings", "decisions", "tokens", "outbox",
}
READER_CALLS = {"get", "get_or_none"}  # readers.get(...): logs in to Salesforce
OFFLOADS = {"run_in_threadpool", "in_thread", "_threaded", "run_sync"}


def called_name(call: ast.Call) -> str | None:
    function = call.func
    return function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else None


def on_the_loop(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes a function runs itself: not inside an offloading call's arguments, a lambda or a nested def."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        if isinstance(node, ast.Call) and called_name(node) in OFFLOADS:
            pending.append(node.func)
            continue
        pending.extend(ast.iter_child_nodes(node))


def direct_blocking(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in PORT_ATTRIBUTES:
        return f".{node.attr}"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READER_CALLS
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "readers"):
        return f"readers.{node.func.attr}()"
    return None


@dataclass
class Functions:
    """The module-level and nested functions of entrypoints/http, sync and async, by name."""

    sync: dict[str, list[ast.FunctionDef]] = field(default_factory=dict)
    asynchronous: list[tuple[Path, ast.AsyncFunctionDef]] = field(default_factory=list)

    @classmethod
    def read(cls) -> Functions:
        found = cls()
        for path in sorted(HTTP.glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef):
                    found.sync.setdefault(node.name, []).append(node)
                elif isinstance(node, ast.AsyncFunctionDef):
                    found.asynchronous.append((path, node))
        return found

    def blocking(self) -> dict[str, str]:
        """Sync functions that reach a port, each with the first way it does (a name shared by several counts
        when any of them does)."""
        reasons: dict[str, str] = {}
        changed = True
        while changed:
            changed = False
            for name, definitions in self.sync.items():
                if name in reasons:
                    continue
                for definition in definitions:
                    reason = first_blocking(on_the_loop(definition.body), reasons)
                    if reason:
                        reasons[name] = reason
                        changed = True
                        break
        return reasons


def first_blocking(nodes: Iterator[ast.AST], blocking: dict[str, str]) -> str | None:
    for node in nodes:
        reason = direct_blocking(node)
        if reason:
            return reason
        if isinstance(node, ast.Call) and called_name(node) in blocking:
            return f"{called_name(node)}() ({blocking[called_name(node)]})"  # type: ignore[index]
    return None


def test_no_async_def_in_the_http_entrypoints_blocks_the_event_loop() -> None:
    functions = Functions.read()
    blocking = functions.blocking()
    on_loop = {f"{path.name}:{function.lineno} {function.name}": reason for path, function in functions.asynchronous
               if (reason := first_blocking(on_the_loop(function.body), blocking))}
    assert functions.asynchronous and not on_loop, (
        f"async handlers that block the event loop (hand the call to run_in_threadpool): {on_loop}")


def test_the_check_sees_a_publish_and_a_store_read_on_the_loop() -> None:
    """The check itself: the shapes window 8 had (a publish inside an async handler, a sync helper reading the
    store called from one) are found; the same calls handed to a thread are not."""
    source = '''
def status(runtime, booking_id):
    return runtime.ports.store.bookings.get(booking_id)

async def publish(runtime, events):
    enqueue(runtime.broker, events)

async def read(runtime, booking_id):
    return status(runtime, booking_id)

async def login(readers, settings):
    return readers.get(settings)

async def offloaded(runtime, events, booking_id):
    await run_in_threadpool(enqueue, runtime.broker, events)
    return await run_in_threadpool(lambda: status(runtime, booking_id))
'''
    module = ast.parse(source)
    functions = Functions(sync={node.name: [node] for node in module.body if isinstance(node, ast.FunctionDef)})
    blocking = functions.blocking()
    found = {node.name: first_blocking(on_the_loop(node.body), blocking)
             for node in module.body if isinstance(node, ast.AsyncFunctionDef)}
    assert found == {"publish": ".broker", "read": "status() (.bookings)", "login": "readers.get()", "offloaded": None}
