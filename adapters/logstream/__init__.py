"""The log stream: every assignment (and booking) log on a RabbitMQ topic exchange, for live followers."""

from adapters.logstream.entries import StreamEntry, assignment_entries
from adapters.logstream.keys import binding_keys, routing_key, segment
from adapters.logstream.rabbitmq import LogFollower, RabbitmqLogSink

__all__ = ["LogFollower", "RabbitmqLogSink", "StreamEntry", "assignment_entries", "binding_keys", "routing_key",
           "segment"]
