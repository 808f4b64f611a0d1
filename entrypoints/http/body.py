"""Request bodies read with a size limit: a declared Content-Length over it is refused before reading, and a
streamed (chunked) body stops being read as soon as it passes the limit, so no body over it is ever held."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request

JSON_CONTENT_TYPE = "application/json"


class BodyTooLarge(Exception):
    def __init__(self, limit: int, size: int | None):
        self.limit = limit
        self.size = size
        said = f"body of {size} bytes" if size is not None else "body"
        super().__init__(f"{said} is over the {limit}-byte limit (BATON_MAX_REQUEST_BYTES)")


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


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Refused(400, f"malformed JSON: {exc}") from None


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body; an HTTPException (415, 413 or 400) when there is none to read."""
    try:
        return parse_json(await read_typed_body(request, (JSON_CONTENT_TYPE,), limit))
    except Refused as exc:
        raise HTTPException(exc.status, exc.message) from None
