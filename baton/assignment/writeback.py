"""Write back and log: every decision goes to the log stream; owners reach Salesforce through the outbox.

The assign stage already stored each new owner in the outbox, in the transaction that decided it; the
outbox flusher (``baton flush``) writes them in large sObject Collections calls, so this stage needs
no database round trip and no API call of its own.
"""

from __future__ import annotations

from baton.assignment.ports import AssignmentPorts
from messages import AssignmentBatch


def writeback_batch(batch: AssignmentBatch, ports: AssignmentPorts) -> None:
    ports.sink.publish(batch.logs)
