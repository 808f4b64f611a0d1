"""One hierarchy for every error Baton raises on purpose."""

from __future__ import annotations


class BatonError(Exception):
    """Base of all Baton errors."""


class TransientError(BatonError):
    """Worth retrying: network trouble, 5xx, 429, lock contention, rate limits."""


class DependencyUnavailable(TransientError):
    """The database or the broker cannot be reached (an outage, a restart, a failover): not the message's
    fault, so retrying it does not use up its retries (see ``BATON_RETRY_OUTAGE_MS``)."""


class PermanentError(BatonError):
    """Retrying cannot help: malformed input, unknown record, invalid config."""


class ConfigError(PermanentError):
    """The org configuration or the process settings are invalid.

    ``problems`` holds one ``(path, message)`` pair per error, e.g.
    ``("teams[2].members[0].timezone", "unknown time zone 'Europe/Londn'")``.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


class InputError(PermanentError):
    """A record, message or request is malformed; the message says what and where."""


class SessionInvalid(PermanentError):
    """Salesforce refused the session (revoked, expired or missing): log in again before retrying."""


class ReplayIdInvalid(PermanentError):
    """The Streaming API refused a replay id: older than the retention window (72 hours) or unknown."""

    def __init__(self, channel: str, replay_id: int, message: str):
        self.channel = channel
        self.replay_id = replay_id
        super().__init__(f"{channel}: replay id {replay_id} refused: {message}")
