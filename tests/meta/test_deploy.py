"""The deploy files say what the code does: settings reference, Kubernetes manifests, KEDA, compose, Procfile.

No Docker engine or cluster runs here: built-in Kubernetes kinds are validated with kubernetes-validate
(the API's own schemas, strict), KEDA's resources against models of KEDA's CRDs (cloudcoil-models-keda)
plus a schema of the rabbitmq trigger's parameters (tests/support/keda_schemas.py), and the compose
file by the compose-spec package (Python bindings of the Rust ``compose_spec`` parser, which refuses
unknown keys and bad values), after PyYAML resolves its anchors and merge keys as ``docker compose`` does;
the structure Baton relies on is checked on top.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from compose_spec import PyCompose

from baton import runtime
from baton.chains import CHAINS, queue_names, stage_names
from baton.settings import Settings
from baton.settings_doc import MEANINGS, render
from tests.support.keda_schemas import RABBITMQ_TRIGGER_METADATA

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
PROCESS_TYPES = {"web", "worker", "scheduler", "flusher", "listen", "sync"}
DEPLOYED = {"web": "web", "worker": "worker", "scheduler": "scheduler", "flusher": "flusher", "listener": "listen"}
CRD_GROUPS = ("keda.sh/", "monitoring.coreos.com/")  # custom resources: checked against their own schemas below
RULES_FILE = DEPLOY / "prometheus" / "baton-rules.yml"
DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
RULE_FILE_SCHEMA = {  # Prometheus' alerting rule file (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/)
    "type": "object", "required": ["groups"], "additionalProperties": False,
    "properties": {"groups": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["name", "rules"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "interval": {"type": "string", "pattern": DURATION},
                       "rules": {"type": "array", "minItems": 1, "items": {
                           "type": "object", "required": ["alert", "expr"], "additionalProperties": False,
                           "properties": {
                               "alert": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                               "expr": {"type": "string"}, "for": {"type": "string", "pattern": DURATION},
                               "keep_firing_for": {"type": "string", "pattern": DURATION},
                               "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                               "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}},
}


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(command) for name, command in (line.split(":", 1) for line in lines if line.strip())}


def manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def same_command(deployed: list[str], procfile_command: list[str]) -> bool:
    """Equal, with the Procfile's ``${BATON_HTTP_PORT:-8000}`` read as its default."""
    return deployed == [part.replace("${BATON_HTTP_PORT:-8000}", "8000") for part in procfile_command]


def test_the_settings_reference_is_generated_from_the_settings_class_and_current() -> None:
    assert (DEPLOY / "settings.md").read_text() == render(), "run: python -m baton.settings_doc > deploy/settings.md"
    rows = [line for line in render().splitlines() if line.startswith("| `BATON_")]
    assert len(rows) == len(Settings.model_fields)
    assert all(not row.endswith("|  |") for row in rows), "every setting needs a meaning"
    assert set(MEANINGS) <= set(Settings.model_fields)


def test_the_procfile_names_every_process_type() -> None:
    assert set(procfile()) == PROCESS_TYPES


def test_the_web_process_takes_its_client_address_from_the_tcp_peer_not_uvicorns_proxy_headers() -> None:
    """uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (anyone on the host could name any client
    and escape the failed-authentication limit); only BATON_TRUSTED_PROXIES decides (docs/security.md)."""
    assert "--no-proxy-headers" in procfile()["web"]


@pytest.mark.parametrize("doc", [doc for doc in manifests() if not doc["apiVersion"].startswith(CRD_GROUPS)],
                         ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_every_built_in_kubernetes_object_is_valid_against_the_api_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def keda_check(doc: dict[str, Any]) -> None:
    """Against the models of KEDA's own CRDs (cloudcoil-models-keda): a key they do not know would be dropped
    on the way through, so the round trip must give the document back unchanged; rabbitmq trigger metadata,
    a string map in the CRD, against its own schema."""
    parsed = getattr(keda, doc["kind"]).model_validate(doc)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, "unknown or misspelt keys"
    for trigger in doc["spec"].get("triggers", []):
        assert trigger["type"] == "rabbitmq"
        jsonschema.validate(trigger["metadata"], RABBITMQ_TRIGGER_METADATA)


@pytest.mark.parametrize("doc", [doc for doc in manifests() if doc["apiVersion"].startswith("keda.sh/")],
                         ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_keda_objects_are_valid_against_keda_s_crds(doc: dict[str, Any]) -> None:
    keda_check(doc)


def test_the_keda_check_refuses_a_misspelt_field_a_wrong_type_and_a_bad_trigger_parameter() -> None:
    doc = by_kind("ScaledObject")["baton-worker"]
    with pytest.raises(AssertionError, match="unknown or misspelt"):
        keda_check({**doc, "spec": {**doc["spec"], "maxReplicas": 5}})
    with pytest.raises(pydantic.ValidationError):
        keda_check({**doc, "spec": {**doc["spec"], "minReplicaCount": "two"}})
    trigger = doc["spec"]["triggers"][0]
    with pytest.raises(jsonschema.ValidationError, match="queueLength"):
        keda_check({**doc, "spec": {**doc["spec"], "triggers": [
            {**trigger, "metadata": {**trigger["metadata"], "queueLength": "5"}}]}})


def test_every_declared_stage_is_an_actor_on_its_own_queue_and_no_actor_is_undeclared(
    stub_runtime: runtime.Runtime,
) -> None:
    broker = stub_runtime.broker
    prefix = stub_runtime.settings.queue_prefix
    assert sorted(broker.get_declared_actors()) == sorted(stage_names())
    for chain in CHAINS:
        for stage in chain.stages:
            assert broker.get_actor(stage.name).queue_name == stage.queue(prefix), (chain.name, stage.name)
    declared = {queue for queue in broker.get_declared_queues() if not queue.endswith((".DQ", ".XQ"))}
    assert declared == set(queue_names(prefix))


def test_keda_scales_the_worker_deployment_on_every_declared_stage_queue_with_its_credentials() -> None:
    scaled = by_kind("ScaledObject")["baton-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    prefix = by_kind("ConfigMap")["baton-settings"]["data"]["BATON_QUEUE_PREFIX"]
    queues = [trigger["metadata"]["queueName"] for trigger in scaled["spec"]["triggers"]]
    assert sorted(queues) == sorted(queue_names(prefix))
    auth_names = {trigger["authenticationRef"]["name"] for trigger in scaled["spec"]["triggers"]}
    assert auth_names == set(by_kind("TriggerAuthentication"))
    for auth in by_kind("TriggerAuthentication").values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in by_kind("Secret")[ref["name"]]["stringData"]


def test_each_process_type_has_a_deployment_running_the_procfile_command_with_settings_and_secrets() -> None:
    deployments, commands = by_kind("Deployment"), procfile()
    assert set(deployments) == {f"baton-{name}" for name in DEPLOYED}
    config_maps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    for name, process_type in DEPLOYED.items():
        pod = deployments[f"baton-{name}"]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert same_command(container["command"], commands[process_type]), name
        refs = {next(iter(ref)): next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs["configMapRef"] in config_maps and refs["secretRef"] in secrets
        [volume] = pod["volumes"]
        assert volume["configMap"]["name"] in config_maps
    settings = config_maps["baton-settings"]["data"]
    assert settings["BATON_CONFIG"].startswith(container["volumeMounts"][0]["mountPath"])
    assert all(key.startswith("BATON_") and key[6:].lower() in Settings.model_fields for key in settings)
    for secret in secrets.values():
        assert all(key[6:].lower() in Settings.model_fields for key in secret["stringData"] if key.startswith("BATON_"))


def test_the_web_service_selects_the_web_pods_on_their_named_port() -> None:
    service = by_kind("Service")["baton-web"]
    web = by_kind("Deployment")["baton-web"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= web["metadata"]["labels"].items()
    port_names = {port["name"] for port in web["spec"]["containers"][0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names


def test_the_org_config_in_the_config_map_is_a_valid_routing_config() -> None:
    from routing.config import load_config_text

    config = load_config_text(by_kind("ConfigMap")["baton-org-config"]["data"]["org.yaml"])
    assert config.teams[0].sla_minutes == 60


def parse_compose(text: str) -> PyCompose:
    return PyCompose.from_json(json.dumps(yaml.safe_load(text)))


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    compose = parse_compose((DEPLOY / "docker-compose.yml").read_text())
    assert set(compose.service_names()) == {"rabbitmq", "postgres", "web", "worker", "scheduler", "flusher",
                                            "listener"}
    with pytest.raises(ValueError, match="restartt"):
        parse_compose("services:\n  web:\n    image: baton\n    restartt: always\n")


def test_compose_runs_every_process_against_healthy_rabbitmq_and_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services, commands = compose["services"], procfile()
    assert {"rabbitmq", "postgres", "web", "worker", "scheduler", "flusher", "listener"} <= set(services)
    for name, process_type in DEPLOYED.items():
        service = services[name]
        assert same_command(service["command"], commands[process_type]), name
        assert service["depends_on"] == {"rabbitmq": {"condition": "service_healthy"},
                                         "postgres": {"condition": "service_healthy"}}
        env = service["environment"]
        assert env["BATON_BROKER_URL"].startswith("amqp://") and "@rabbitmq:5672/" in env["BATON_BROKER_URL"]
        postgres = services["postgres"]["environment"]
        assert env["BATON_DATABASE_URL"] == (f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
                                             f"@postgres:5432/{postgres['POSTGRES_DB']}")
        assert Settings.model_validate({key[6:].lower(): value for key, value in env.items()})
        assert "healthcheck" in services["rabbitmq"] and "healthcheck" in services["postgres"]
    assert (DEPLOY / services["web"]["build"]["context"] / services["web"]["build"]["dockerfile"]).is_file()


def alert_rules() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in yaml.safe_load(RULES_FILE.read_text())["groups"]
            for rule in group["rules"]}


def test_the_alert_rules_are_a_prometheus_rule_file_and_the_prometheus_rule_carries_the_same_rules() -> None:
    rules = yaml.safe_load(RULES_FILE.read_text())
    jsonschema.validate(rules, RULE_FILE_SCHEMA)
    [operator_rule] = by_kind("PrometheusRule").values()
    assert operator_rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert operator_rule["metadata"]["labels"]["app.kubernetes.io/name"] == "baton"
    assert operator_rule["spec"] == rules
    with pytest.raises(jsonschema.ValidationError, match="expr"):
        jsonschema.validate({"groups": [{"name": "g", "rules": [{"alert": "A", "exprr": "up"}]}]}, RULE_FILE_SCHEMA)


def test_the_alerts_watch_metrics_baton_serves_at_the_thresholds_of_its_settings(tmp_path: Path) -> None:
    """Each metric an alert names is one the store's gauges report; the warning fires where the flusher's
    notification does, the critical one well before writes are dead-lettered."""
    from adapters.store import Store, make_engine, upgrade_schema
    from baton.operations.metrics.store_gauges import StoreGauges

    engine = make_engine(f"sqlite:///{tmp_path / 'metrics.sqlite3'}")
    upgrade_schema(engine)
    served = {family.name for family in StoreGauges(lambda: Store(engine)).collect()}
    rules = alert_rules()
    for name, rule in rules.items():
        assert set(re.findall(r"\bbaton_\w+", rule["expr"])) <= served, name
    settings = Settings()
    waiting, near_the_end = rules["BatonOwnerWritesWaiting"], rules["BatonOwnerWritesNearTheirRetryWindow"]
    assert waiting["expr"].endswith(f"> {settings.outbox_alert_after_s}")
    assert int(near_the_end["expr"].rsplit("> ", 1)[1]) < settings.outbox_retry_window_s
