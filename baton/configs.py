"""Which org config a decision uses: the newest valid one, reloaded without a restart."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import structlog

from kernel.errors import ConfigError, PermanentError
from kernel.ports.describes import DescribeRepository
from kernel.ports.operations import ConfigVersionRepository, StoredConfig
from routing.config import OrgConfig, config_digest, load_config_text
from routing.writeback import Fact, mapping_problems

log = structlog.get_logger(__name__)
CACHED_VERSIONS = 16
FALLBACK_VERSIONS = 50  # a process starting after bad versions were stored looks this far back for a good one


class ConfigProvider:
    """Serves the newest valid config version from the store; a bad version never replaces a good one."""

    def __init__(self, configs: ConfigVersionRepository, refresh_ms: int = 2_000):
        self._configs = configs
        self._refresh_s = refresh_ms / 1000
        self._lock = threading.Lock()
        self._versions: dict[int, OrgConfig] = {}
        self._rejected: set[int] = set()
        self._current: int | None = None
        self._checked_at = float("-inf")

    def current(self) -> tuple[int, OrgConfig]:
        known = self._current
        config = self._versions.get(known) if known is not None else None
        if config is not None and time.monotonic() - self._checked_at < self._refresh_s:
            return known, config  # type: ignore[return-value]
        if not self._lock.acquire(blocking=config is None):  # another thread is refreshing: use what we have
            return known, config  # type: ignore[return-value]
        try:
            if time.monotonic() - self._checked_at >= self._refresh_s:
                self._refresh()
            if self._current is None:
                raise PermanentError("no routing config has been applied: run `baton config apply CONFIG`")
            return self._current, self._versions[self._current]
        finally:
            self._lock.release()

    def fields_baton_writes(self) -> dict[str, frozenset[str]]:
        """Per object, the fields the current config writes beside OwnerId (routing facts, a booking's host
        field), which the loop guard counts as Baton's own; empty while no config is applied."""
        try:
            return self.current()[1].fields_baton_writes
        except PermanentError:
            return {}

    def refresh_now(self) -> None:
        """The next ``current()`` reads the newest version from the store (a change this process just stored
        takes effect at once, not after ``refresh_ms``)."""
        self._checked_at = float("-inf")

    def version(self, version: int) -> OrgConfig:
        cached = self._versions.get(version)  # every stage asks per record: no lock once it is loaded
        if cached is not None:
            return cached
        with self._lock:
            if version not in self._versions:
                stored = self._configs.config(version)
                if stored is None:
                    raise PermanentError(f"config version {version} is not in the store")
                self._versions[version] = load_config_text(stored.body, f"config v{version}")
                self._trim()
            return self._versions[version]

    def _refresh(self) -> None:
        stored = self._configs.latest_config()  # a failed read leaves the check due: the next call reads again
        self._checked_at = time.monotonic()
        if stored is None or stored.version == self._current or stored.version in self._rejected:
            return
        candidate: StoredConfig | None = stored
        while candidate is not None:
            try:
                self._versions[candidate.version] = load_config_text(candidate.body, f"config v{candidate.version}")
            except ConfigError as exc:
                self._rejected.add(candidate.version)
                log.error("config_rejected", version=candidate.version, problems=exc.problems, kept=self._current)
                if self._current is not None:
                    return
                candidate = self._older_valid_candidate(candidate.version)  # a fresh process: newest good one
                continue
            log.info("config_loaded", version=candidate.version, previous=self._current)
            self._current = candidate.version
            self._trim()
            return

    def _older_valid_candidate(self, version: int) -> StoredConfig | None:
        for older in range(version - 1, max(0, version - 1 - FALLBACK_VERSIONS), -1):
            if older in self._rejected:
                continue
            stored = self._configs.config(older)
            if stored is not None:
                return stored
        return None

    def _trim(self) -> None:
        for old in sorted(self._versions)[:-CACHED_VERSIONS]:
            if old != self._current:
                del self._versions[old]


def writeback_problems(config: OrgConfig, describes: DescribeRepository) -> list[tuple[str, str]]:
    """What is wrong with the config's write-back mapping against the describes ``baton sync`` stored: a field
    that does not exist, has the wrong type or is not updateable, and an object with no stored describe (a
    mapping never checked against the org could fail every write). A config without one needs no describes."""
    if not config.writeback:
        return []
    stored = {name: found for name in config.writeback if (found := describes.get(name)) is not None}
    values: dict[Fact, set[str]] = {
        "team": config.team_names(), "territory": {territory.name for territory in config.territories},
        "method": {str(team.method) for team in config.teams}}
    return mapping_problems(config.writeback, stored, values)


def check_config(text: str, source: str, describes: DescribeRepository | None) -> OrgConfig:
    """The config, validated, its write-back mapping checked against ``describes`` when given; raises
    ConfigError with every problem and its path."""
    config = load_config_text(text, source)
    problems = writeback_problems(config, describes) if describes is not None else []
    if problems:
        raise ConfigError(problems)
    return config


def apply_config(configs: ConfigVersionRepository, text: str, now: datetime, source: str = "config",
                 describes: DescribeRepository | None = None) -> tuple[int, bool]:
    """Validate and store a config; raises ConfigError (nothing stored) when it is invalid, or when ``describes``
    are given (``baton config apply``) and its write-back mapping does not fit them."""
    check_config(text, source, describes)
    return configs.save_config(text, config_digest(text), now)


def warn_unchecked_writeback(text: str, source: str, describes: DescribeRepository) -> None:
    """Logs (never refuses) what is wrong with the write-back mapping of a config a process applies as it starts
    (BATON_CONFIG): describes may be synced after it starts; only ``baton check`` and ``baton config apply``
    refuse."""
    problems = writeback_problems(load_config_text(text, source), describes)
    if problems:
        log.warning("config_writeback_unchecked", source=source, problems=problems,
                    hint="run baton sync, then baton check")
