"""Record assignment: the routing stages, holds, SLA timers, batch reassignment and simulation."""
