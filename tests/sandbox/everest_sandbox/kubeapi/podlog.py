"""``GET pods/<name>/log`` (``pods/log`` in discovery, verb ``get``).

Upstream: ``pkg/registry/core/pod/strategy.go`` (validateContainer, LogLocation). The emulator runs no containers, so
every pod is one that no node has picked up: its log is empty (200, ``text/plain``), after the container checks:
several containers and none named -> 400 ``a container name must be specified for pod <p>, choose one of: [<names>]``
(init, then regular, then ephemeral containers); an unknown name -> 400 ``container <c> is not valid for pod <p>``.
"""

from __future__ import annotations

from . import errors as E

CONTAINER_LISTS = ('initContainers', 'containers', 'ephemeralContainers')


def pod_log(pod: dict, container: str | None) -> str:
    spec, name = pod.get('spec') or {}, pod['metadata']['name']
    names = [c.get('name', '') for field in CONTAINER_LISTS for c in spec.get(field) or ()]
    if not container:
        regular = spec.get('containers') or []
        if not regular:
            raise E.bad_request(f'a container name must be specified for pod {name}')
        if len(regular) > 1:
            raise E.bad_request(f'a container name must be specified for pod {name}, choose one of: [{" ".join(names)}]')
    elif container not in names:
        raise E.bad_request(f'container {container} is not valid for pod {name}')
    return ''
