"""JSON schemas of the two KEDA custom resources Baton ships (keda.sh/v1alpha1), covering the fields
deploy/kubernetes/keda.yaml uses, written from KEDA's ScaledObject and TriggerAuthentication reference
(KEDA's CRDs are not on PyPI). Unknown keys are refused, so a misspelt field fails the test."""

from __future__ import annotations

from typing import Any

_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                   "namespace": {"type": "string"}, "labels": {"type": "object"},
                   "annotations": {"type": "object"}},
    "additionalProperties": False,
}

RABBITMQ_TRIGGER: dict[str, Any] = {
    "type": "object",
    "required": ["type", "metadata"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "rabbitmq"},
        "name": {"type": "string"},
        "authenticationRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                              "properties": {"name": {"type": "string"}, "kind": {"enum": [
                                  "TriggerAuthentication", "ClusterTriggerAuthentication"]}}},
        "metadata": {
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
                "unsafeSsl": {"type": "string"},
            },
        },
    },
}

SCALED_OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                  "apiVersion": {"type": "string"},
                                                  "envSourceContainerName": {"type": "string"}}},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {"type": "array", "minItems": 1, "items": RABBITMQ_TRIGGER},
            },
        },
    },
}

TRIGGER_AUTHENTICATION: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array", "minItems": 1,
                    "items": {"type": "object", "required": ["parameter", "name", "key"],
                              "additionalProperties": False,
                              "properties": {"parameter": {"enum": ["host", "username", "password"]},
                                             "name": {"type": "string"}, "key": {"type": "string"}}},
                },
            },
        },
    },
}

KEDA_SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}
