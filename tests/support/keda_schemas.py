"""What KEDA's CRDs leave untyped: a rabbitmq trigger's ``metadata`` (a string map in the CRD), as KEDA's
RabbitMQ scaler reference describes it. Unknown keys are refused, so a misspelt parameter fails the test."""

from __future__ import annotations

from typing import Any

RABBITMQ_TRIGGER_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["queueName", "mode", "value"],
    "additionalProperties": False,
    "properties": {
        "protocol": {"enum": ["amqp", "http", "auto"]},
        "queueName": {"type": "string", "minLength": 1},
        "mode": {"enum": ["QueueLength", "MessageRate"]},
        "value": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
        "activationValue": {"type": "string"},
        "vhostName": {"type": "string"},
        "hostFromEnv": {"type": "string"},
        "usernameFromEnv": {"type": "string"},
        "passwordFromEnv": {"type": "string"},
        "unsafeSsl": {"enum": ["true", "false"]},
        "useRegex": {"enum": ["true", "false"]},
        "excludeUnacknowledged": {"enum": ["true", "false"]},
        "pageSize": {"type": "string"},
        "operation": {"enum": ["sum", "max", "avg"]},
        "timeout": {"type": "string"},
    },
}
