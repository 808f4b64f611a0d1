"""Write back: new owners out through the owner writer, and every decision to the log stream."""

from __future__ import annotations

from collections.abc import Sequence

from baton.coalesce import Coalescer
from baton.errors import TransientError
from baton.ports import OwnerChange, Ports
from messages import AssignmentBatch, Outcome


def write_batches(batches: Sequence[AssignmentBatch], ports: Ports) -> None:
    """One outbox read, one owner write call and one status update for every batch of the round."""
    logs = [log for batch in batches for log in batch.logs]
    assigned = [log.routing_id for log in logs if log.outcome is Outcome.ASSIGNED]
    pending = ports.store.pending_outbox(assigned)
    changes = [
        OwnerChange(row["routing_id"], row["object_type"], row["record_id"], row["owner_id"]) for row in pending
    ]
    failures: dict[str, str] = {}
    if changes:
        results = ports.owner_writer.write(changes)
        now = ports.clock()
        by_status: dict[tuple[str, str | None], list[str]] = {}
        for result in results:
            if result.ok:
                by_status.setdefault((result.status, result.error), []).append(result.routing_id)
            else:
                failures[result.routing_id] = result.error or result.status
        for (status, error), routing_ids in by_status.items():
            ports.store.mark_outbox(routing_ids, status, now, error)
        ports.store.note_outbox_failures(failures)
    ports.sink.publish(logs)
    if failures:
        sample = "; ".join(f"{rid}: {error}" for rid, error in list(failures.items())[:5])
        raise TransientError(f"{len(failures)} owner write(s) will be retried: {sample}")


def _round(items: Sequence[tuple[AssignmentBatch, Ports]]) -> list[None]:
    write_batches([batch for batch, _ in items], items[0][1])
    return [None] * len(items)


_group_commit: Coalescer[tuple[AssignmentBatch, Ports], None] = Coalescer(run=_round)


def writeback_batch(batch: AssignmentBatch, ports: Ports) -> None:
    _group_commit.submit((batch, ports))
