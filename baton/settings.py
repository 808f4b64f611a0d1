"""Process settings, read from ``BATON_*`` environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.salesforce.change_events import CHANNEL_PATTERN

DEFAULT_DATABASE_URL = "sqlite:///baton.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    broker_url: str = Field(
        default="", description="amqp://user:pass@host:5672/vhost for RabbitMQ; empty = in-process broker"
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the state store")
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema for Baton's tables (created if missing)"
    )
    config: Path | None = Field(default=None, description="org routing config (YAML) applied at start")
    accounts_file: Path | None = Field(
        default=None, description="accounts to match leads against (JSONL or CSV) until a Salesforce sync runs"
    )
    leads_file: Path | None = Field(default=None, description="open leads to find duplicates among (JSONL or CSV)")
    contacts_file: Path | None = Field(default=None, description="contacts to find duplicates among (JSONL or CSV)")
    outbound_token: str | None = Field(
        default=None, description="secret path segment of POST /salesforce/outbound/{token}; unset = endpoint off"
    )
    salesforce_org_ids: str = Field(
        default="", description="comma-separated org ids allowed to send outbound messages and to open the handoff "
                                "page from Canvas (empty = neither)"
    )
    salesforce_user_id: str | None = Field(
        default=None, description="Baton's integration user (loop guard: its updates of only fields Baton writes, "
                                  "and records it last modified, are not routed)"
    )
    salesforce_login_url: str = Field(default="https://login.salesforce.com", description="OAuth login host")
    salesforce_client_id: str | None = Field(default=None, description="connected app consumer key (client credentials)")
    salesforce_client_secret: str | None = Field(default=None, description="connected app consumer secret")
    salesforce_username: str | None = Field(
        default=None, description="integration user for the JWT bearer or username-password flow"
    )
    salesforce_password: str | None = Field(
        default=None, description="password (plus security token) for the username-password flow"
    )
    salesforce_private_key_file: Path | None = Field(
        default=None, description="PEM private key of the connected app's certificate (JWT bearer flow)"
    )
    salesforce_jwt_audience: str | None = Field(
        default=None, description="JWT aud: https://login.salesforce.com or https://test.salesforce.com; "
                                  "default the login URL"
    )
    salesforce_timeout_ms: int = Field(
        default=30_000, ge=1, description="timeout of one Salesforce API call (connect, then each wait for an answer); "
                                          "an unanswered owner write is then read back"
    )
    salesforce_channels: str = Field(
        default="", description="comma-separated Streaming API channels for baton listen, e.g. /data/LeadChangeEvent"
    )
    events_token: str | None = Field(
        default=None, description="deprecated single bearer token with scope events:write (use baton tokens create)"
    )
    sync_account_domain_fields: str = Field(
        default="", description="comma-separated Account fields holding extra domains (e.g. Domain__c), synced too"
    )
    sync_user_calendar_field: str | None = Field(
        default=None, description="User field with the calendar address (e.g. Calendar_Email__c); unset = Email"
    )
    sync_closed_lead_statuses: str = Field(
        default="Closed - Converted,Closed - Not Converted",
        description="comma-separated lead statuses that count as closed (dropped from the synced open leads)",
    )
    sync_settle_s: float = Field(
        default=60.0, ge=0, description="the sync leaves out changes younger than this (transactions in flight)"
    )
    reference_refresh_ms: int = Field(
        default=5_000, ge=0, description="how often workers look for a changed synced copy to rebuild indexes"
    )
    max_request_bytes: int = Field(default=2_000_000, ge=1024, description="largest accepted request body")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    http_port: int = Field(default=8000, ge=1, le=65535)
    queue_prefix: str = Field(default="baton", pattern=r"^[a-z][a-z0-9_.-]*$")
    batch_size: int = Field(default=100, ge=1, le=5000, description="records per stage message")
    max_retries: int = Field(default=8, ge=0)
    min_backoff_ms: int = Field(default=500, ge=1)
    max_backoff_ms: int = Field(default=300_000, ge=1, description="kept far below RabbitMQ's 30-minute timeout")
    broker_timeout_ms: int = Field(
        default=10_000, ge=100,
        description="the longest a publish to RabbitMQ waits (connect, handshake, a blocked connection) before it "
                    "fails: the HTTP sender gets a 503 and retries, a worker retries the message",
    )
    retry_enqueue_wait_ms: int = Field(
        default=60_000, ge=0,
        description="how long a worker keeps trying to enqueue a retry while RabbitMQ is unreachable, then dead-letters",
    )
    retry_outage_ms: int = Field(
        default=900_000, ge=0,
        description="while PostgreSQL or RabbitMQ cannot be reached, messages are retried this long without using up "
                    "BATON_MAX_RETRIES; 0 = off",
    )
    config_refresh_ms: int = Field(default=2_000, ge=0, description="how often workers look for a new config")
    worker_threads: int = Field(default=16, ge=1)
    flush_interval_ms: int = Field(default=1_000, ge=10, description="how often the outbox flusher writes owners")
    outbox_retry_window_s: int = Field(
        default=86_400, ge=60,
        description="an owner write failing transiently (5xx, 429, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, "
                    "Salesforce unreachable) is retried this long after its first failure, then dead-lettered",
    )
    outbox_min_backoff_ms: int = Field(
        default=1_000, ge=1, description="first wait before a failed owner write is tried again (then doubled)"
    )
    outbox_max_backoff_ms: int = Field(
        default=300_000, ge=1, description="longest wait between two tries of an owner write (the backoff's cap)"
    )
    outbox_alert_after_s: int = Field(
        default=3_600, ge=0,
        description="the flusher sends an outbox_backlog notification when the oldest waiting owner write is older "
                    "than this (once per crossing); 0 = off",
    )
    outbox_alert_user_ids: str = Field(
        default="", description="comma-separated Salesforce user ids told of an owner-write backlog; empty = the "
                                "org config's team leads",
    )
    api_budget_share: float = Field(
        default=0.9, gt=0, le=1, description="a reassign job defers while the org's daily API usage is at this share"
    )
    bulk_poll_ms: int = Field(default=2_000, ge=1, description="first wait between Bulk API 2.0 job state checks")
    google_service_account_file: Path | None = Field(
        default=None, description="JSON key of the Google service account with domain-wide delegation; unset = no calendar"
    )
    google_calendar_api_url: str = Field(
        default="https://www.googleapis.com/calendar/v3/", description="Google Calendar API v3 base URL"
    )
    google_freebusy_subject: str | None = Field(
        default=None, description="Workspace user whose delegated access reads the hosts' free/busy (e.g. an admin)"
    )
    google_timeout_ms: int = Field(default=30_000, ge=1, description="timeout of one Google Calendar API call")
    salesforce_event_external_id_field: str = Field(
        default="Baton_Booking_Id__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Event external id field that booked meetings are upserted on",
    )
    salesforce_no_show_field: str = Field(
        default="Baton_No_Show__c",
        description="Event checkbox that marks a booked meeting a no-show when a change event sets it",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Prometheus metrics port of dramatiq workers and the flusher (e.g. 9191); 0 = off (web: /metrics)",
    )
    metrics_host: str = Field(default="0.0.0.0", description="address the metrics port listens on")
    log_exchange: str = Field(
        default="", pattern=r"^[A-Za-z0-9_.:-]*$",
        description="RabbitMQ topic exchange of the log stream; empty = <queue_prefix>.logs (baton.logs)",
    )
    notify_smtp_host: str | None = Field(default=None, description="SMTP server for owner and escalation emails; unset = no email")
    notify_smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS, 25 plain)")
    notify_smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls upgrades a plain connection, tls connects over TLS, none is plain"
    )
    notify_smtp_username: str | None = Field(default=None, description="SMTP login user; unset = no login")
    notify_smtp_password: str | None = Field(default=None, description="SMTP login password")
    notify_email_from: str = Field(default="baton@localhost", description="From address of notification emails")
    notify_slack_webhook_url: str | None = Field(
        default=None, description="Slack incoming webhook URL for notifications; unset = no Slack messages"
    )
    notify_templates: Path | None = Field(
        default=None, description="YAML file overriding the notification templates (subject, text, slack per kind)"
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, description="timeout of one SMTP or webhook call")
    scheduler_interval_s: float = Field(default=5.0, gt=0, description="seconds between the scheduler's rounds")
    calendar_poll_interval_s: float = Field(
        default=60.0, gt=0,
        description="seconds between two reads of the hosts' calendar changes (events.list sync tokens) by the scheduler",
    )
    dead_letter_sweep_interval_s: float = Field(
        default=600.0, gt=0,
        description="seconds between two moves of RabbitMQ's dead-letter (.XQ) queues into the store by the scheduler "
                    "(a message whose store copy a worker could not write is listed and replayable within this time)",
    )
    booking_resume_after_s: float = Field(
        default=300.0, gt=0,
        description="seconds a booking's chain may stand still between two steps before the scheduler sends its next "
                    "step again (a process died between them; steps are idempotent)",
    )
    booking_token: str | None = Field(
        default=None,
        description="deprecated single bearer token with scopes bookings:read and bookings:write (use baton tokens create)",
    )
    metrics_token: str | None = Field(
        default=None,
        description="bearer token with scope metrics:read checked without the database (scrapes work while it is down)",
    )
    booking_rate_per_minute: int = Field(
        default=120, ge=1, description="booking API requests one token may make a minute (429 beyond; per-token override)"
    )
    auth_failures_per_minute: int = Field(
        default=20, ge=1, description="failed authentications (bad bearer token, Canvas request, link, page token, "
                                      "outbound path) one client address may make a minute; then 429 until it ends",
    )
    trusted_proxies: str = Field(
        default="", description="comma-separated IPs or CIDRs of the proxies whose X-Forwarded-For names the client; "
                                "empty = the TCP peer is the client",
    )
    page_token_secret: str | None = Field(
        default=None, description="key signing the handoff page's tokens and links; unset = page off"
    )
    page_token_ttl_s: int = Field(default=1_800, ge=60, description="lifetime of a handoff page token")
    handoff_link_ttl_s: int = Field(default=86_400, ge=60, description="lifetime of a signed handoff link")
    canvas_consumer_secret: str | None = Field(
        default=None, description="consumer secret of the Canvas connected app (signed requests); unset = Canvas off"
    )
    canvas_max_age_s: int = Field(
        default=300, ge=0, description="oldest accepted Canvas signed request (issuedAt); 0 = no age check"
    )
    handoff_frame_ancestors: str = Field(
        default="", description="who may frame the handoff page (CSP frame-ancestors), written out; empty = "
                                "'self' and the hosts of BATON_SALESFORCE_MY_DOMAIN, or 'none' without it",
    )
    salesforce_my_domain: str = Field(
        default="", description="the org's My Domain name ('acme', or 'acme--uat' for a sandbox): its Salesforce, "
                                "Lightning and Visualforce hosts may frame the handoff page",
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="Baton's web address, for handoff links")
    gc_gen0_threshold: int = Field(
        default=50_000, ge=0, description="objects allocated between young-generation collections; 0 = Python's 700"
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_driver(cls, url: str) -> str:
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("salesforce_channels")
    @classmethod
    def _check_channels(cls, text: str) -> str:
        bad = [name for name in _split(text) if not CHANNEL_PATTERN.match(name)]
        if bad:
            raise ValueError(f"not a /data/... or /event/... channel: {', '.join(bad)}")
        return text

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, text: str) -> str:
        bad = []
        for entry in _split(text):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(entry)
        if bad:
            raise ValueError(f"not an IP address or CIDR network: {', '.join(bad)}")
        return text

    @model_validator(mode="after")
    def _check_outbox_backoff(self) -> Settings:
        if self.outbox_min_backoff_ms > self.outbox_max_backoff_ms:
            raise ValueError(f"BATON_OUTBOX_MIN_BACKOFF_MS ({self.outbox_min_backoff_ms}) is above "
                             f"BATON_OUTBOX_MAX_BACKOFF_MS ({self.outbox_max_backoff_ms})")
        return self

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(_split(self.salesforce_channels)))

    @property
    def allowed_org_ids(self) -> set[str]:
        return {org.strip()[:15] for org in self.salesforce_org_ids.split(",") if org.strip()}

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in _split(self.trusted_proxies))

    @property
    def outbox_alert_recipients(self) -> list[str]:
        return list(dict.fromkeys(_split(self.outbox_alert_user_ids)))

    @property
    def notifications_enabled(self) -> bool:
        return bool(self.notify_smtp_host or self.notify_slack_webhook_url)

    @property
    def uses_rabbitmq(self) -> bool:
        return self.broker_url.startswith(("amqp://", "amqps://"))

    @property
    def log_exchange_name(self) -> str:
        return self.log_exchange or f"{self.queue_prefix}.logs"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
