"""Kubernetes manifests for a packaged model: a Deployment, a Service and an autoscaler.

One YAML file per object under ``k8s/`` (``deployment.yaml``, ``service.yaml``,
``hpa.yaml``), so ``kubectl apply -f k8s/`` applies them all and each can be edited or
left out on its own. Every object is named after the model, made a valid DNS label
(``Churn_Model.v2`` becomes ``churn-model-v2``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import InvalidInput
from .docker import LIVE_PATH, READY_PATH, UID, check_port

SERVICE_PORT = 80
CPU_TARGET_PERCENT = 70
MAX_REPLICAS_FACTOR = 5
METRICS_PATH = "/metrics"
VERSION_LABEL = "loopml.io/model-version"
_LABEL_MAX = 63
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][0-9]+|m|[kMGTPE]|[KMGTPE]i)?$")


def dns_name(name: str) -> str:
    """``name`` as a DNS-1035 label (lower case, letters, digits and '-', starting with a
    letter, at most 63 characters), which every Kubernetes object name accepts."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not label[:1].isalpha():
        label = f"model-{label}".rstrip("-")
    return label[:_LABEL_MAX].rstrip("-")


def default_image(model_name: str, version: int) -> str:
    """``<dns name>:<version>``, the tag the README builds and the Deployment runs."""
    return f"{dns_name(model_name)}:{version}"


def manifests(
    *,
    model_name: str,
    version: int,
    model_uri: str,
    image: str,
    port: int,
    replicas: int,
    cpu: str,
    memory: str,
) -> dict[str, str]:
    """The YAML text of each manifest, by file name under ``k8s/``."""
    check_port(port)
    _check_settings(image, replicas, cpu, memory)
    name = dns_name(model_name)
    labels = {"app": name, VERSION_LABEL: str(version)}
    objects = {
        "deployment.yaml": _deployment(
            name, labels, model_uri, image, port, replicas, {"cpu": cpu, "memory": memory}
        ),
        "service.yaml": _service(name, labels, port),
        "hpa.yaml": _autoscaler(name, labels, replicas),
    }
    return {file: yaml.safe_dump(body, sort_keys=False) for file, body in objects.items()}


def _deployment(
    name: str,
    labels: dict[str, str],
    model_uri: str,
    image: str,
    port: int,
    replicas: int,
    resources: dict[str, str],
) -> dict[str, Any]:
    def probe(path: str, delay: int, period: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": port},
            "initialDelaySeconds": delay,
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }

    container = {
        "name": "model",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": probe(READY_PATH, 5, 10),
        "livenessProbe": probe(LIVE_PATH, 15, 20),
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": dict(labels),
            "annotations": {"loopml.io/model-uri": model_uri},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(port),
                        "prometheus.io/path": METRICS_PATH,
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


def _service(name: str, labels: dict[str, str], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": port, "protocol": "TCP"}
            ],
        },
    }


def _autoscaler(name: str, labels: dict[str, str], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas,
            "maxReplicas": replicas * MAX_REPLICAS_FACTOR,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": CPU_TARGET_PERCENT,
                        },
                    },
                }
            ],
        },
    }


def _check_settings(image: str, replicas: int, cpu: str, memory: str) -> None:
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        raise InvalidInput(
            f"image {image!r} is not a container image reference",
            hint="pass image='registry.example.com/churn:3' or leave it out for NAME:VERSION",
        )
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InvalidInput(
            f"replicas {replicas!r} must be a whole number of at least 1",
            hint="pass replicas=2 (the autoscaler scales up to 5 times that)",
        )
    for setting, value, example in (("cpu", cpu, "500m or 1"), ("memory", memory, "512Mi or 1Gi")):
        if not isinstance(value, str) or not _QUANTITY.match(value):
            raise InvalidInput(
                f"{setting} {value!r} is not a Kubernetes quantity",
                hint=f"pass {setting} as a quantity such as {example}",
            )
