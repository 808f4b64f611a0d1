"""What the routing stages use of the application's ports, and nothing else: the decisions repository, the
configs, reference data, the log sink and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.reference import ReferenceData, ReferenceUpdates
from baton.configs import ConfigProvider
from baton.ports import AssignmentSink, Ports
from kernel.clock import Clock
from kernel.ports.decisions import DecisionRepository


@dataclass(frozen=True, slots=True)
class AssignmentPorts:
    decisions: DecisionRepository
    configs: ConfigProvider
    reference: ReferenceData
    reference_updates: ReferenceUpdates
    sink: AssignmentSink
    clock: Clock

    @classmethod
    def of(cls, ports: Ports) -> AssignmentPorts:
        return cls(decisions=ports.store.decisions, configs=ports.configs, reference=ports.reference,
                   reference_updates=ports.reference_updates, sink=ports.sink, clock=ports.clock)
