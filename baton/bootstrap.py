"""The composition root: picks broker, store and adapters from settings before workers import."""

from __future__ import annotations

import importlib

import dramatiq
import structlog

from adapters.reference import FileReferenceData, ReferenceData
from adapters.reference_updates import StoreReferenceUpdates
from adapters.salesforce.reference_records import SyncOptions
from adapters.store import Store, make_engine, upgrade_schema
from adapters.synced_reference import StoreReferenceData
from baton import runtime
from baton.broker import build_broker
from baton.clock import Clock, utc_now
from baton.configs import ConfigProvider, apply_config
from baton.logging import configure_logging
from baton.ports import AssignmentSink, OwnerWriter, Ports, RecordingSink, UnconfiguredOwnerWriter
from baton.settings import Settings

log = structlog.get_logger(__name__)


def open_store(settings: Settings) -> Store:
    engine = make_engine(settings.database_url, settings.database_schema, pool_size=settings.worker_threads + 2)
    upgrade_schema(engine, settings.database_schema)
    return Store(engine)


def salesforce_writer(settings: Settings) -> OwnerWriter | None:
    """The Salesforce owner writer when a connected app is configured, else None (embedded default)."""
    if not (settings.salesforce_client_id and settings.salesforce_client_secret):
        return None
    from adapters.salesforce.auth import ClientCredentials, connect
    from adapters.salesforce.writer import SalesforceOwnerWriter

    credentials = ClientCredentials(settings.salesforce_login_url, settings.salesforce_client_id,
                                    settings.salesforce_client_secret)
    return SalesforceOwnerWriter(connect(credentials))


def sync_options(settings: Settings) -> SyncOptions:
    """The org-specific parts of the reference-data sync, from settings."""
    def listed(text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip())

    return SyncOptions(
        account_domain_fields=listed(settings.sync_account_domain_fields),
        user_calendar_field=settings.sync_user_calendar_field or None,
        closed_lead_statuses=frozenset(listed(settings.sync_closed_lead_statuses)),
    )


def reference_data(settings: Settings, store: Store) -> ReferenceData:
    """Files when any is configured, else Baton's synced copy (empty until ``baton sync`` first runs)."""
    if settings.accounts_file or settings.leads_file or settings.contacts_file:
        return FileReferenceData(settings.accounts_file, settings.leads_file, settings.contacts_file)
    return StoreReferenceData(store, settings.reference_refresh_ms)


def bootstrap(
    settings: Settings | None = None,
    *,
    owner_writer: OwnerWriter | None = None,
    sink: AssignmentSink | None = None,
    clock: Clock = utc_now,
    store: Store | None = None,
) -> runtime.Runtime:
    """Build this process's runtime and bind the stage actors to its broker. Call once per process."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    store = store or open_store(settings)
    if settings.config is not None:
        version, created = apply_config(store, settings.config.read_text(), clock(), str(settings.config))
        log.info("config_applied", version=version, created=created, path=str(settings.config))
    ports = Ports(
        store=store,
        configs=ConfigProvider(store, settings.config_refresh_ms),
        owner_writer=owner_writer or salesforce_writer(settings) or UnconfiguredOwnerWriter(),
        sink=sink or RecordingSink(),
        clock=clock,
        reference=reference_data(settings, store),
        reference_updates=StoreReferenceUpdates(store, sync_options(settings), clock),
    )
    broker = build_broker(settings, lambda: runtime.current().ports.store, clock)
    dramatiq.set_broker(broker)
    current = runtime.Runtime(settings=settings, broker=broker, ports=ports)
    runtime.install(current)
    importlib.import_module("workers")
    return current


def ensure_bootstrapped() -> runtime.Runtime:
    return runtime.current() if runtime.installed() else bootstrap()
