"""Restart of Deployment ``everest-system/everest-server``, shared by ``accounts reset-jwt-keys`` and
``settings oidc configure``.

The real CLI (``pkg/kubernetes/deployment.go`` ``RestartDeployment``): GET the Deployment, set the pod-template
annotation ``kubectl.kubernetes.io/restartedAt`` to ``time.Now().Format(time.RFC3339)`` (local time), plain Update;
GET+Update are retried on any error, 5 retries 5 s apart; the final error is joined with ``cannot add restart
annotation to deployment='<name>' in namespace='<namespace>'``. Then it polls (first poll at once, every 5 s, at
most 15 min) until ``status.readyReplicas == status.replicas == status.updatedReplicas``, ``unavailableReplicas`` is
0 and ``metadata.generation == status.observedGeneration``; a timeout is ``context deadline exceeded``.

The emulator retries and polls every 50 ms for at most 60 s (like its other waits), and sleeps the latency
model's ``deployment_restart_s`` between the Update and the wait (the sandbox's Kubernetes API emulator reports the
Deployment ready at once).
"""

from __future__ import annotations

import time

from . import kube, timing
from .output import Failure
from .timing import rfc3339_now

SYSTEM_NS = 'everest-system'
NAME = 'everest-server'
RESTART_ANNOTATION = 'kubectl.kubernetes.io/restartedAt'
RETRIES = 5
RETRY_S = 0.05
POLL_S = 0.05
POLL_TIMEOUT_S = 60.0


def _annotate(client: kube.Client, path: str):
    deployment = client.get(path)
    template = deployment.setdefault('spec', {}).setdefault('template', {})
    annotations = template.setdefault('metadata', {}).get('annotations') or {}
    annotations[RESTART_ANNOTATION] = rfc3339_now()
    template['metadata']['annotations'] = annotations
    client.replace(path, deployment)


def _ready(deployment: dict) -> bool:
    status = deployment.get('status') or {}
    return (
        status.get('readyReplicas', 0) == status.get('replicas', 0) == status.get('updatedReplicas', 0)
        and status.get('unavailableReplicas', 0) == 0
        and deployment.get('metadata', {}).get('generation', 0) == status.get('observedGeneration', 0)
    )


def restart(client: kube.Client, namespace: str = SYSTEM_NS, name: str = NAME):
    """Annotate, then wait until the Deployment is ready again; ``Failure`` with the real CLI's texts."""
    path = kube.path('apps/v1', 'deployments', namespace, name)
    for attempt in range(RETRIES + 1):
        try:
            _annotate(client, path)
            break
        except kube.KubeError as exc:
            if attempt == RETRIES:
                raise Failure(f"{exc}\ncannot add restart annotation to deployment='{name}' in namespace='{namespace}'") from None
            time.sleep(RETRY_S)
    timing.knob('deployment_restart_s')
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        try:
            if _ready(client.get(path)):
                return
        except kube.KubeError as exc:
            raise Failure(str(exc)) from None
        if time.monotonic() > deadline:
            raise Failure('context deadline exceeded')
        time.sleep(POLL_S)
