"""The Kubernetes manifests of a packaged model, read back by the official client's models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.client import ApiClient, V1Deployment, V1Service, V2HorizontalPodAutoscaler

from loopml.errors import InvalidInput
from loopml.packaging import BuildResult, build, docker
from loopml.packaging.kubernetes import dns_name
from loopml.store import Store

from .test_docker import register_model

DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MODEL_NAME = "Churn_Model.v2"


class _Response:
    """What ``ApiClient.deserialize`` reads: the body of an API response."""

    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _load(path: Path, kind: str) -> Any:
    documents = list(yaml.safe_load_all(path.read_text()))
    assert len(documents) == 1
    with ApiClient() as client:
        return client.deserialize(_Response(documents[0]), kind)


@pytest.fixture
def built(store: Store, tmp_path: Path) -> BuildResult:
    register_model(store, MODEL_NAME)
    return build(
        store,
        f"{MODEL_NAME}@champion",
        tmp_path / "context",
        port=9000,
        replicas=3,
        cpu="250m",
        memory="1Gi",
    )


def _objects(built: BuildResult) -> tuple[V1Deployment, V1Service, V2HorizontalPodAutoscaler]:
    k8s = built.out / "k8s"
    assert sorted(p.name for p in k8s.iterdir()) == ["deployment.yaml", "hpa.yaml", "service.yaml"]
    return (
        _load(k8s / "deployment.yaml", "V1Deployment"),
        _load(k8s / "service.yaml", "V1Service"),
        _load(k8s / "hpa.yaml", "V2HorizontalPodAutoscaler"),
    )


def test_manifests_load_into_the_client_models_with_valid_names(built: BuildResult) -> None:
    deployment, service, autoscaler = _objects(built)
    assert isinstance(deployment, V1Deployment)
    assert isinstance(service, V1Service)
    assert isinstance(autoscaler, V2HorizontalPodAutoscaler)
    assert (deployment.api_version, deployment.kind) == ("apps/v1", "Deployment")
    assert (service.api_version, service.kind) == ("v1", "Service")
    assert (autoscaler.api_version, autoscaler.kind) == (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
    )
    names = {deployment.metadata.name, service.metadata.name, autoscaler.metadata.name}
    assert names == {"churn-model-v2"}
    assert DNS_1035_LABEL.match("churn-model-v2")


def test_deployment_runs_the_image_with_probes_resources_and_a_non_root_user(
    built: BuildResult,
) -> None:
    deployment, _, _ = _objects(built)
    spec = deployment.spec
    template = spec.template
    assert spec.replicas == 3
    assert template.metadata.labels == {"app": "churn-model-v2", "loopml.io/model-version": "1"}
    assert deployment.metadata.annotations["loopml.io/model-uri"] == built.model_uri
    assert spec.selector.match_labels.items() <= template.metadata.labels.items()
    assert template.metadata.annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9000",
        "prometheus.io/path": "/metrics",
    }
    [container] = template.spec.containers
    assert container.image == built.image == "churn-model-v2:1"
    [port] = container.ports
    assert port.container_port == 9000
    assert container.readiness_probe.http_get.path == "/v2/health/ready"
    assert container.liveness_probe.http_get.path == "/v2/health/live"
    assert container.readiness_probe.http_get.port == container.liveness_probe.http_get.port == 9000
    assert container.resources.requests == {"cpu": "250m", "memory": "1Gi"}
    assert container.resources.limits == {"cpu": "250m", "memory": "1Gi"}
    security = template.spec.security_context
    assert security.run_as_non_root is True
    dockerfile_user = [
        line.split()[1]
        for line in (built.out / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ]
    assert security.run_as_user == docker.UID == int(dockerfile_user[-1])
    assert container.security_context.allow_privilege_escalation is False


def test_service_and_autoscaler_point_at_the_deployment(built: BuildResult) -> None:
    deployment, service, autoscaler = _objects(built)
    [container] = deployment.spec.template.spec.containers
    assert service.spec.type == "ClusterIP"
    [port] = service.spec.ports
    assert port.port == 80
    assert port.target_port == container.ports[0].container_port
    assert service.spec.selector == deployment.spec.selector.match_labels
    target = autoscaler.spec.scale_target_ref
    assert (target.api_version, target.kind, target.name) == (
        "apps/v1",
        "Deployment",
        deployment.metadata.name,
    )
    assert (autoscaler.spec.min_replicas, autoscaler.spec.max_replicas) == (3, 15)
    [metric] = autoscaler.spec.metrics
    assert metric.type == "Resource" and metric.resource.name == "cpu"
    assert metric.resource.target.type == "Utilization"
    assert metric.resource.target.average_utilization == 70


def test_manifests_are_plain_yaml_without_anchors(built: BuildResult) -> None:
    for path in (built.out / "k8s").iterdir():
        text = path.read_text()
        assert "&id" not in text and "*id" not in text, path.name


def test_image_can_be_named(store: Store, tmp_path: Path) -> None:
    register_model(store)
    image = "registry.example.com/team/churn:2024-06"
    result = build(store, "churn@champion", tmp_path / "context", image=image)
    deployment = _load(result.out / "k8s" / "deployment.yaml", "V1Deployment")
    assert deployment.spec.template.spec.containers[0].image == result.image == image
    assert f"docker build -t {image} ." in (result.out / "README.md").read_text()


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ({"replicas": 0}, "replicas 0"),
        ({"replicas": 1.5}, "replicas 1.5"),
        ({"cpu": "lots"}, "cpu 'lots'"),
        ({"memory": "1 GB"}, "memory '1 GB'"),
        ({"image": ""}, "image ''"),
        ({"image": "churn latest"}, "image 'churn latest'"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    store: Store, tmp_path: Path, setting: dict[str, Any], words: str
) -> None:
    register_model(store)
    with pytest.raises(InvalidInput, match=re.escape(words)) as raised:
        build(store, "churn@champion", tmp_path / "builds" / "context", **setting)
    assert raised.value.hint
    assert not (tmp_path / "builds").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Churn_Model.v2", "churn-model-v2"),
        ("churn", "churn"),
        ("3d-printer", "model-3d-printer"),
        ("A..B__c", "a-b-c"),
        ("___", "model"),
        ("x" * 70 + "-y", "x" * 63),
    ],
)
def test_dns_name_examples(name: str, expected: str) -> None:
    assert dns_name(name) == expected


@given(st.text(max_size=300))
def test_dns_name_is_always_a_valid_label(name: str) -> None:
    label = dns_name(name)
    assert DNS_1035_LABEL.match(label) and len(label) <= 63
    assert dns_name(label) == label
