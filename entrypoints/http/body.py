"""Request bodies read with a size limit: a declared Content-Length over it is refused before reading, and a
streamed (chunked) body stops being read as soon as it passes the limit, so no body over it is ever held."""

from __future__ import annotations

from typing import Any

from fastapi import Request


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
