"""Each state machine of Baton declared once, as a transition table: a booking, an outbox row, a hold, an inbox
message of the embedded default.

The tables are pure data. The store applies every transition as a compare-and-set on the row's status and
version, so a step that lost a race (a cancel came first) sees that as a normal outcome, not an error."""

from routing.lifecycles.machine import IllegalTransition, StateMachine

__all__ = ["IllegalTransition", "StateMachine"]
