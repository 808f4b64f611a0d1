"""Request bodies read with a size limit: a declared Content-Length over it is refused before reading, and a
streamed (chunked) body stops being read as soon as it passes the limit, so no body over it is ever held.

``BoundedBodies`` holds every endpoint to ``BATON_MAX_REQUEST_BYTES`` (413), whether it reads its body itself or
FastAPI reads it; ``read_body`` and ``read_json`` are how an endpoint reads its own, JSON nested no deeper than
``MAX_JSON_DEPTH`` levels."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_JSON_DEPTH = 32


class BodyTooLarge(HTTPException):
    """A 413: raised by the bounded ``receive`` wherever the body is read, so any endpoint answers it."""

    def __init__(self, limit: int, size: int | None):
        self.limit = limit
        self.size = size
        said = f"body of {size} bytes" if size is not None else "body"
        super().__init__(413, f"{said} is over the {limit}-byte limit (BATON_MAX_REQUEST_BYTES)")

    def __str__(self) -> str:
        return str(self.detail)


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


class BoundedBodies:
    """ASGI middleware: a request declaring a body over ``limit()`` bytes is answered 413 before anything is
    read; a streamed one raises ``BodyTooLarge`` from ``receive`` as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            refusal = BodyTooLarge(limit, declared)
            await JSONResponse({"detail": refusal.detail}, 413)(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit, None)
            return message

        await self.app(scope, bounded_receive, send)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


def openapi_body(content_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` describing a body an endpoint reads itself (so clients and fuzzers know its shape)."""
    return {"requestBody": {"required": True, "content": {content_type: {"schema": schema}}}}


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` resolved in place (for ``openapi_extra``)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


def json_objects(max_items: int) -> dict[str, Any]:
    """One JSON object or a list of at most ``max_items`` of them."""
    return {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}, "maxItems": max_items}]}


class Refused(Exception):
    """The request is answered with ``status`` and ``message`` before it is looked at further."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


async def read_typed_body(request: Request, accepted: tuple[str, ...], limit: int) -> bytes:
    """The body, when its content type is one of ``accepted`` (the first is named in a 415) and it is not
    over ``limit`` (a 413)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in accepted:
        raise Refused(415, f"expected {accepted[0]}, got {content_type or 'no content type'}")
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        raise Refused(413, str(exc)) from None


def nesting_depth(value: Any, stop_after: int) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), counted without recursion; counting
    stops once it passes ``stop_after``."""
    deepest = 0
    pending = [(value, 1)]
    while pending and deepest <= stop_after:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(body: bytes) -> Any:
    too_deep = Refused(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise Refused(400, f"malformed JSON: {exc}") from None
    if nesting_depth(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise too_deep
    return parsed


def invalid(exc: ValidationError) -> JSONResponse:
    """A 422 naming each field of the body that failed validation."""
    return JSONResponse({"detail": [{"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                                    for error in exc.errors(include_url=False, include_input=False)]},
                        status_code=422)


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body; an HTTPException (415, 413 or 400) when there is none to read."""
    try:
        return parse_json(await read_typed_body(request, (JSON_CONTENT_TYPE,), limit))
    except Refused as exc:
        raise HTTPException(exc.status, exc.message) from None
