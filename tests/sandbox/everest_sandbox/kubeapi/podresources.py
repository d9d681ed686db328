"""Pod resource arithmetic shared by LimitRanger and ResourceQuota (``k8s.io/component-helpers/resource``).

* ``pod_requests`` / ``pod_limits``: the sum over the containers; restartable init containers (sidecars,
  ``restartPolicy: Always``) are added to that sum; every other init container runs alone (together with the sidecars
  started before it), so the pod needs the larger of the sum and the biggest such init step; ``spec.overhead`` is added
  to the requests (``PodRequests``) and to the limits of the resources that have one (``PodLimits``).
* ``qos_class``: Guaranteed (every container has cpu and memory limits and equal requests), BestEffort (no container
  requests or limits cpu or memory), Burstable otherwise (``pkg/apis/core/v1/helper/qos``).
"""

from __future__ import annotations

from .quantity import add_lists, max_into, parse_list

COMPUTE = ('cpu', 'memory')


def containers(pod: dict) -> list:
    return list((pod.get('spec') or {}).get('containers') or [])


def init_containers(pod: dict) -> list:
    return list((pod.get('spec') or {}).get('initContainers') or [])


def _resources(container: dict, field: str) -> dict:
    return parse_list((container.get('resources') or {}).get(field))


def _aggregate(pod: dict, field: str) -> dict:
    total: dict = {}
    for container in containers(pod):
        total = add_lists(total, _resources(container, field))
    sidecars: dict = {}
    init_peak: dict = {}
    for container in init_containers(pod):
        own = _resources(container, field)
        if container.get('restartPolicy') == 'Always':
            total = add_lists(total, own)
            sidecars = add_lists(sidecars, own)
            step = sidecars
        else:
            step = add_lists(own, sidecars)
        max_into(init_peak, step)
    max_into(total, init_peak)
    return total


def pod_requests(pod: dict) -> dict:
    total = _aggregate(pod, 'requests')
    return add_lists(total, parse_list((pod.get('spec') or {}).get('overhead')))


def pod_limits(pod: dict) -> dict:
    total = _aggregate(pod, 'limits')
    overhead = parse_list((pod.get('spec') or {}).get('overhead'))
    return add_lists(total, {k: v for k, v in overhead.items() if k in total})


def qos_class(pod: dict) -> str:
    requests: dict = {}
    limits: dict = {}
    guaranteed = True
    for container in containers(pod) + init_containers(pod):
        res = container.get('resources') or {}
        req = {k: v for k, v in parse_list(res.get('requests')).items() if k in COMPUTE and v.sign() > 0}
        lim = {k: v for k, v in parse_list(res.get('limits')).items() if k in COMPUTE and v.sign() > 0}
        requests = add_lists(requests, req)
        limits = add_lists(limits, lim)
        guaranteed = guaranteed and set(lim) == set(COMPUTE)
    if not requests and not limits:
        return 'BestEffort'
    if guaranteed and all(k in limits and limits[k] == v for k, v in requests.items()) and len(requests) == len(limits):
        return 'Guaranteed'
    return 'Burstable'
