"""structlog setup: JSON (or console) lines to stderr, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = frozenset(
    {"sessionid", "session_id", "access_token", "refresh_token", "token", "password", "secret",
     "client_secret", "authorization", "api_key", "private_key", "page_token", "link_token",
     "x-baton-page-token"}
)
REDACTED = "[redacted]"
_SECRET_PATTERNS = (
    re.compile(r"(<(?:\w+:)?SessionId>)[^<]*(</(?:\w+:)?SessionId>)", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=!-]+", re.IGNORECASE),
    re.compile(r"(\b00D[A-Za-z0-9]{12,15}!)[A-Za-z0-9._]+"),
    re.compile(r"(/salesforce/outbound/)[^/?\s\"']+"),  # the outbound endpoint's secret path segment
    re.compile(r"(\bbaton_[0-9a-f]{12}_)[A-Za-z0-9_-]+"),  # API tokens (baton tokens create)
    re.compile(r"([?&]link=)[^&#\s\"']+"),  # the handoff page's signed link token, whatever its shape
    # handoff page and link tokens wherever they travel: base64url of '{"kind":"' then the rest and the MAC
    re.compile(r"(\beyJraW5kIjoi)[A-Za-z0-9_-]*(?:(?:\.|%2[Ee])[A-Za-z0-9_-]*)?"),
)


def _redact_text(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED + (m.group(2) if m.lastindex == 2 else ""), text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secret-named keys and session ids / bearer tokens in text are masked."""
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if key.lower() in SECRET_KEYS else _redact(value)
    return event_dict


class AccessLogRedaction(logging.Filter):
    """uvicorn's access log line names the request path and query: secrets in them (the outbound endpoint's
    path token, the handoff link token, a handoff page or link token anywhere) are masked before any handler
    formats the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_text(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = _redact_text(record.msg)
        return True


def redact_access_log(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, AccessLogRedaction) for existing in logger.filters):
        logger.addFilter(AccessLogRedaction())


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(logging.getLevelName(level), logging.WARNING), stream=sys.stderr)
