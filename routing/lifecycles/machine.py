"""A state machine as a transition table: which status may follow which."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class IllegalTransition(ValueError):
    """A transition the table does not allow (a bug in the caller, not a lost race)."""

    def __init__(self, machine: str, current: str, to: str):
        self.machine, self.current, self.to = machine, current, to
        super().__init__(f"{machine}: no transition from {current!r} to {to!r}")


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """``transitions[a]`` are the statuses that may follow ``a``; a status with none is final."""

    name: str
    transitions: Mapping[S, frozenset[S]]
    initial: S
    _sources: dict[S, frozenset[S]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sources: dict[S, set[S]] = {}
        for current, following in self.transitions.items():
            for to in following:
                if to not in self.transitions:
                    raise ValueError(f"{self.name}: {to!r} follows {current!r} but has no row of its own")
                sources.setdefault(to, set()).add(current)
        object.__setattr__(self, "_sources", {to: frozenset(found) for to, found in sources.items()})

    @property
    def final(self) -> frozenset[S]:
        return frozenset(status for status, following in self.transitions.items() if not following)

    def allows(self, current: S | str, to: S | str) -> bool:
        return self._status(to) in self.transitions[self._status(current)]

    def check(self, current: S | str, to: S | str) -> None:
        """Raises ``IllegalTransition`` unless ``to`` may follow ``current``."""
        if not self.allows(current, to):
            raise IllegalTransition(self.name, str(current), str(to))

    def sources(self, to: S | str) -> frozenset[S]:
        """Every status from which ``to`` may be entered (the compare-and-set's allowed current statuses)."""
        return self._sources.get(self._status(to), frozenset())

    def is_final(self, status: S | str) -> bool:
        return not self.transitions[self._status(status)]

    def _status(self, value: S | str) -> S:
        for status in self.transitions:
            if status == value:
                return status
        raise IllegalTransition(self.name, str(value), "(unknown status)")


def table(machine: Iterable[tuple[S, Iterable[S]]]) -> dict[S, frozenset[S]]:
    """A transition table from (status, following statuses) pairs."""
    return {status: frozenset(following) for status, following in machine}
