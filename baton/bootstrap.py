"""The composition root: picks broker, store and adapters from settings before workers import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import dramatiq
import structlog

from adapters.calendar import Calendar
from adapters.reference import FileReferenceData, ReferenceData
from adapters.reference_updates import StoreReferenceUpdates
from adapters.salesforce.events import SalesforceEvents
from adapters.salesforce.reference_records import SyncOptions
from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.leader import LeaderLock
from adapters.synced_reference import StoreReferenceData
from baton import runtime
from baton.actors import declare_actors
from baton.assignment.sla_sink import SlaTimerSink
from baton.broker import build_broker
from baton.configs import ConfigProvider, apply_config, warn_unchecked_writeback
from baton.gc_tuning import tune_gc
from baton.logging import configure_logging
from baton.middleware import WarmUp
from baton.notify.notifier import backlog_notifications
from baton.notify.wiring import configured_channels, enqueue_notifications, with_notifications
from baton.operations.metrics.exposition import install_metrics
from baton.operations.scheduler import SCHEDULER_LOCK, Scheduler
from baton.ports import AssignmentSink, Ports, RecordingSink, UnconfiguredOwnerWriter
from baton.salesforce.backlog import BacklogAlarm, BacklogAlert
from baton.salesforce.flusher import Flusher
from baton.salesforce.retry import RetryPolicy
from baton.settings import Settings
from kernel.clock import Clock, utc_now
from kernel.errors import ConfigError, PermanentError
from kernel.ports import OwnerWriter
from routing.normalize import registered_domain

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from adapters.salesforce.auth import Credentials

log = structlog.get_logger(__name__)


def open_store(settings: Settings) -> Store:
    engine = make_engine(settings.database_url, settings.database_schema, pool_size=settings.worker_threads + 2)
    upgrade_schema(engine, settings.database_schema)
    return Store(engine)


def salesforce_credentials(settings: Settings) -> Credentials | None:
    """The connected app's login flow, from what is configured (JWT bearer, username-password or client
    credentials), or None when no connected app is configured (the embedded default)."""
    from adapters.salesforce.auth import ClientCredentials, JwtBearer, UsernamePassword

    client_id, secret = settings.salesforce_client_id, settings.salesforce_client_secret
    if not client_id:
        return None
    if settings.salesforce_private_key_file and settings.salesforce_username:
        try:
            key = settings.salesforce_private_key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([("BATON_SALESFORCE_PRIVATE_KEY_FILE", f"cannot read: {exc.strerror}")]) from None
        return JwtBearer(settings.salesforce_login_url, client_id, settings.salesforce_username, key,
                         settings.salesforce_jwt_audience or settings.salesforce_login_url)
    if not secret:
        return None
    if settings.salesforce_username and settings.salesforce_password:
        return UsernamePassword(settings.salesforce_login_url, client_id, secret, settings.salesforce_username,
                                settings.salesforce_password)
    return ClientCredentials(settings.salesforce_login_url, client_id, secret)


def salesforce_login(settings: Settings) -> Callable[[], Salesforce] | None:
    """Logs in with the connected app (a fresh session per call), or None when none is configured."""
    credentials = salesforce_credentials(settings)
    if credentials is None:
        return None
    from adapters.salesforce.auth import connect

    timeout_s = settings.salesforce_timeout_ms / 1000
    return lambda: connect(credentials, timeout_s=timeout_s)


def salesforce_writer(settings: Settings) -> OwnerWriter | None:
    """The Salesforce owner writer when a connected app is configured, else None (embedded default)."""
    login = salesforce_login(settings)
    if login is None:
        return None
    from adapters.salesforce.writer import SalesforceOwnerWriter

    return SalesforceOwnerWriter(login=login)


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
    return StoreReferenceData(store.reference_sync, settings.reference_refresh_ms)


def google_calendar(settings: Settings) -> Calendar | None:
    """Google Calendar when a service account key is configured."""
    if settings.google_service_account_file is None:
        return None
    from adapters.calendar.google import GoogleCalendar, load_service_account

    return GoogleCalendar(load_service_account(settings.google_service_account_file),
                          settings.google_freebusy_subject or "", settings.google_calendar_api_url,
                          settings.google_timeout_ms)


CALENDAR_PROVIDERS: tuple[Callable[[Settings], Calendar | None], ...] = (google_calendar,)  # a new one: one entry


def build_calendar(settings: Settings) -> Calendar | None:
    """The first calendar provider the settings configure, else None (the embedded default: pair it with
    ``UnconfiguredCalendar``, whose every call raises a ConfigError naming the setting)."""
    return next((calendar for provider in CALENDAR_PROVIDERS if (calendar := provider(settings)) is not None), None)


def build_salesforce_events(settings: Settings) -> SalesforceEvents | None:
    """Salesforce Event upserts through the connected app when one is configured, else None."""
    login = salesforce_login(settings)
    if login is None:
        return None
    from adapters.salesforce.events import SalesforceEventWriter

    return SalesforceEventWriter(login=login, external_id_field=settings.salesforce_event_external_id_field)


EMBEDDED_LOGS_KEPT = 10_000


def log_sink(settings: Settings) -> AssignmentSink:
    """The topic exchange when the broker is RabbitMQ; in process (the latest kept in memory) on the embedded
    default."""
    if settings.uses_rabbitmq:
        from adapters.logstream import RabbitmqLogSink

        return RabbitmqLogSink(settings.broker_url, settings.log_exchange_name)
    return RecordingSink(keep=EMBEDDED_LOGS_KEPT)


def bootstrap(
    settings: Settings | None = None,
    *,
    owner_writer: OwnerWriter | None = None,
    sink: AssignmentSink | None = None,
    clock: Clock = utc_now,
    store: Store | None = None,
    calendar: Calendar | None = None,
    salesforce_events: SalesforceEvents | None = None,
    inbox: bool = False,
) -> runtime.Runtime:
    """The application: settings, a broker with an actor for every declared stage, and the ports (store,
    Salesforce, calendar, log sink, clock) the settings pick; the arguments replace a port (tests, benches).

    ``inbox``: on the embedded default (no broker URL) every message is stored in the store's inbox before it is
    queued (the web process, which answers Ack or 202 for what it accepted; ``baton.embedded`` drains it)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    store = store or open_store(settings)
    if settings.config is not None:
        text = settings.config.read_text()
        version, created = apply_config(store.administration, text, clock(), str(settings.config))
        log.info("config_applied", version=version, created=created, path=str(settings.config))
        warn_unchecked_writeback(text, str(settings.config), store.describes)
    configs = ConfigProvider(store.administration, settings.config_refresh_ms)
    broker = build_broker(settings, lambda: app.ports.store, clock,
                          WarmUp(lambda: warm_process(app.ports), lambda: warm_thread(store)),
                          inbox=store.inbox if inbox else None)
    install_metrics(broker, settings)
    dramatiq.set_broker(broker)
    ports = Ports(
        store=store,
        configs=configs,
        owner_writer=owner_writer or salesforce_writer(settings) or UnconfiguredOwnerWriter(),
        sink=SlaTimerSink(with_notifications(settings, sink or log_sink(settings), broker), configs, store.sla_timers),
        clock=clock,
        reference=reference_data(settings, store),
        reference_updates=StoreReferenceUpdates(store.reference_sync, sync_options(settings), clock),
        calendar=calendar or build_calendar(settings),
        salesforce_events=salesforce_events or build_salesforce_events(settings),
    )
    app = runtime.Runtime(settings=settings, broker=broker, ports=ports)
    declare_actors(app)
    tune_gc(settings.gc_gen0_threshold)
    return app

FLUSHER_LOCK = "outbox-flusher"


def leader_check(lock: LeaderLock) -> Callable[[], bool]:
    """Asks each round: is the lock still ours, or can we take it now? (Replicas stand by.)"""

    def is_leader() -> bool:
        if lock.held:
            return lock.still_held()
        return lock.try_acquire()

    return is_leader


def outbox_retry_policy(settings: Settings) -> RetryPolicy:
    """Owner writes failing transiently are retried with capped backoff for the retry window."""
    return RetryPolicy(settings.outbox_min_backoff_ms, settings.outbox_max_backoff_ms,
                       window=timedelta(seconds=settings.outbox_retry_window_s))


def team_leads(configs: ConfigProvider) -> list[str]:
    """The leads of the current org config's teams (none before a config is applied)."""
    try:
        _, config = configs.current()
    except PermanentError:
        return []
    return list(dict.fromkeys(team.lead for team in config.teams if team.lead))


def backlog_alarm(current: runtime.Runtime) -> BacklogAlarm | None:
    """The flusher's alarm when owners wait longer than ``BATON_OUTBOX_ALERT_AFTER_S``: logged, and sent to the
    named users (else the team leads) over the configured notification channels."""
    settings = current.settings
    if not settings.outbox_alert_after_s:
        return None
    channels = configured_channels(settings)

    def notify(alert: BacklogAlert) -> None:
        recipients = settings.outbox_alert_recipients or team_leads(current.ports.configs)
        enqueue_notifications(current.broker, backlog_notifications(alert, recipients, channels))

    return BacklogAlarm(timedelta(seconds=settings.outbox_alert_after_s), notify)


def build_flusher(current: runtime.Runtime, is_leader: Callable[[], bool] | None = None) -> Flusher:
    """The outbox flusher over this runtime's store and owner writer, with the process's retry and alarm
    settings.

    By default one flusher works at a time: a PostgreSQL advisory lock elects it.
    """
    settings = current.settings
    if is_leader is None:
        is_leader = leader_check(LeaderLock(current.ports.store.engine, FLUSHER_LOCK))
    store = current.ports.store
    return Flusher(store.outbox, store.administration, current.ports.owner_writer, outbox_retry_policy(settings),
                   current.ports.clock, settings.flush_interval_ms, is_leader, alarm=backlog_alarm(current))


def dead_letter_sweep(current: runtime.Runtime) -> Callable[[], int] | None:
    """On RabbitMQ: moves the stages' dead-letter (.XQ) queues into the store, returning how many letters it
    added (the embedded default has no such queues)."""
    settings, ports = current.settings, current.ports
    if not settings.uses_rabbitmq:
        return None
    from baton.dead_letters import move_from_rabbitmq

    def sweep() -> int:
        report = move_from_rabbitmq(settings, ports.store.administration, ports.clock)
        return len(report.added) if report else 0

    return sweep


def build_scheduler(current: runtime.Runtime) -> Scheduler:
    """One scheduler works at a time: a PostgreSQL advisory lock elects it (on SQLite it is this process)."""
    settings, ports = current.settings, current.ports
    login = salesforce_login(settings)
    reader = None
    if login is not None:
        from adapters.salesforce.rereads import SoqlRecordReader

        reader = lambda: SoqlRecordReader(login(), ports.store.describes)
    channels = configured_channels(settings)
    calendar_poll = None
    if ports.calendar is not None:
        from baton.booking.calendar_sync import poll_calendars
        from baton.booking.ports import BookingPorts

        booking_ports = BookingPorts.of(ports)
        calendar_poll = lambda now: poll_calendars(booking_ports, current.broker, now)  # noqa: E731
    return Scheduler(
        holds=ports.store.holds, timers=ports.store.sla_timers, broker=current.broker, configs=ports.configs,
        clock=ports.clock, reader=reader, bookings=ports.store.bookings, outbox=ports.store.outbox,
        booking_grace=timedelta(seconds=settings.booking_resume_after_s),
        calendar_poll=calendar_poll, calendar_poll_interval_s=settings.calendar_poll_interval_s,
        dead_letter_sweep=dead_letter_sweep(current), dead_letter_sweep_interval_s=settings.dead_letter_sweep_interval_s,
        notify=(lambda notification: enqueue_notifications(current.broker, [notification])) if channels else None,
        channels=channels, batch_size=settings.batch_size,
        is_leader=leader_check(LeaderLock(ports.store.engine, SCHEDULER_LOCK)),
    )


WARM_EMAIL_DOMAIN = "example.com"


def warm_process(ports: Ports) -> None:
    """Loads what the first record would otherwise wait for: the config, the suffix list, match indexes."""
    try:
        ports.configs.current()
    except PermanentError:  # no config applied yet: the first record will say so
        pass
    registered_domain(WARM_EMAIL_DOMAIN)
    ports.reference.account_index()
    ports.reference.person_index()


def warm_thread(store: Store) -> None:
    """One pooled database connection per worker thread, opened before the first message."""
    with store.engine.connect():
        pass
