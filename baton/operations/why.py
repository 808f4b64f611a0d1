"""``baton why``: one record's decision trace, assembled from what the store holds (pure; no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kernel.ports.audit import AuditEntry
from kernel.ports.operations import RecordTrace

OUTBOX_FIELDS = ("status", "superseded_by", "sequence", "attempts", "last_error", "channel", "created_at", "sent_at",
                 "next_attempt_at", "retrying_since", "fields")
HOLD_FIELDS = ("routing_id", "object_type", "record_id", "team", "status", "reason", "held_at", "recheck_at", "checks")
STATE_FIELDS = ("object_type", "record_id", "last_event_at", "routing_id", "owner_id", "updated_at")
LETTER_FIELDS = ("id", "stage", "reason", "failed_at", "replayed_at", "replay_count")
NO_WRITE = {"status": "none", "reason": "no owner to write (the decision did not assign one)"}


def _fields(row: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _stage_traces(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["stage"]: step for step in log.get("trace") or [] if isinstance(step, dict) and "stage" in step}


def _member_changes(log: dict[str, Any], trace: RecordTrace) -> list[dict[str, Any]]:
    """For each member the decision skipped, the last admin change to them before it (who, what, why, when):
    e.g. who toggled them unavailable and the reason they gave."""
    if not trace.member_changes:
        return []
    decided = datetime.fromisoformat(str(log["decided_at"]))
    latest: dict[str, AuditEntry] = {}
    for entry in trace.member_changes:  # oldest first: the newest before the decision wins
        if entry.member_id is not None and entry.at <= decided:
            latest[entry.member_id] = entry
    changes = []
    for skip in log.get("skipped") or []:
        entry = latest.get(skip.get("member_id")) if isinstance(skip, dict) else None
        if entry is not None:
            changes.append({"member_id": entry.member_id, "skipped": skip.get("reason"), "action": entry.action,
                            "by": {"id": entry.actor.id, "name": entry.actor.name}, "reason": entry.reason,
                            "at": entry.at, "config_version": entry.config_version, "audit_id": entry.id})
    return changes


def decision(log: dict[str, Any], trace: RecordTrace) -> dict[str, Any]:
    steps = _stage_traces(log)

    def stage(stage_name: str, /, **output: Any) -> dict[str, Any]:
        step = steps.get(stage_name, {})
        return {**output, "reasons": step.get("reasons", []), "duration_ms": step.get("duration_ms")}

    territory = log.get("territory") or {}
    written = trace.outbox.get(log["routing_id"])
    version = log.get("config_version")
    held = next((hold for hold in trace.holds if hold.routing_id == log["routing_id"]), None)
    return _jsonable({
        "routing_id": log["routing_id"],
        "decided_at": log["decided_at"],
        "outcome": log["outcome"],
        "owner_id": log.get("owner_id"),
        "previous_owner_id": log.get("previous_owner_id"),
        "team": log.get("team"),
        "method": log.get("method"),
        "source": {key: log.get(key) for key in ("source", "source_event_id", "event_at", "enqueued_at")},
        "config": {"version": version, "applied_at": trace.configs.get(version) if version is not None else None},
        "stages": {
            "classify": stage("classify", stamps=log.get("stamps") or {}, tags=log.get("tags") or []),
            "territory": stage("territory", name=territory.get("name"), team=territory.get("team")),
            "match": stage("match", **(log.get("match") or {})),
            "assign": {"path": log.get("path") or [], "team": log.get("team"), "method": log.get("method"),
                       "owner_id": log.get("owner_id"), "reasons": log.get("reasons") or [],
                       "skipped": log.get("skipped") or [], "skip_summary": log.get("skip_summary") or {},
                       "member_changes": _member_changes(log, trace),
                       "booking_suggestion": log.get("booking_suggestion")},
        },
        "salesforce_write": _fields(written, OUTBOX_FIELDS) if written else NO_WRITE,
        "hold": _fields(held, ("status", "reason", "held_at", "recheck_at", "checks")) if held else None,
    })


def record_trace(record_id: str, trace: RecordTrace) -> dict[str, Any]:
    """All decisions for the record (newest first), its holds and the dead letters that touch it."""
    return _jsonable({
        "record_id": record_id,
        "current": _fields(trace.current, STATE_FIELDS) if trace.current else None,
        "decisions": [decision(log, trace) for log in trace.logs],
        "holds": [_fields(hold, HOLD_FIELDS) for hold in trace.holds],
        "dead_letters": [_fields(letter, LETTER_FIELDS) for letter in trace.dead_letters],
    })
