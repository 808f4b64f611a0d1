"""Write back: new owners out through the owner writer, and every decision to the log stream."""

from __future__ import annotations

from baton.errors import TransientError
from baton.ports import OwnerChange, Ports
from messages import AssignmentBatch, Outcome


def writeback_batch(batch: AssignmentBatch, ports: Ports) -> None:
    assigned = [log.routing_id for log in batch.logs if log.outcome is Outcome.ASSIGNED]
    pending = ports.store.pending_outbox(assigned)
    changes = [
        OwnerChange(row["routing_id"], row["object_type"], row["record_id"], row["owner_id"]) for row in pending
    ]
    failures: list[str] = []
    if changes:
        results = ports.owner_writer.write(changes)
        now = ports.clock()
        by_status: dict[str, list[str]] = {}
        for result in results:
            if result.ok:
                by_status.setdefault(result.status, []).append(result.routing_id)
            else:
                failures.append(f"{result.routing_id}: {result.error}")
        for status, routing_ids in by_status.items():
            ports.store.mark_outbox(routing_ids, status, now)
    ports.sink.publish(batch.logs)
    if failures:
        raise TransientError(f"{len(failures)} owner write(s) failed: " + "; ".join(failures[:5]))
