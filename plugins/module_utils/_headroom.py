# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quota headroom: what a tenant's database pods request beyond the engine and proxy resources its
TenantResourcePolicy counts, so that the compute ResourceQuota (policy + headroom) does not refuse the pods of a
cluster the policy allows.

The policy counts ``replicas x spec.engine.resources`` and ``proxy.replicas x spec.proxy.resources`` (``_quota.py``).
The pods the Percona operators create carry more (docs/dev/operator-pods.md has the table and its sources):

========================= ==================================================================== ====================
engine pod / extra pods    containers the policy does not count                                  per
========================= ==================================================================== ====================
PXC node                   ``pmm-client``                                                        node
PXC proxy                  ``pxc-monit`` (+ ``proxysql-monit`` for ProxySQL): no requests -> D;  proxy
                           ``pmm-client``
PXC PITR collector         ``pitr`` (no requests -> D), init ``pitr-init`` 50m/50M: the max     cluster
PSMDB node                 ``backup-agent`` 300m/1G, ``pmm-client``                              node
PostgreSQL node            ``replication-cert-copy``, ``pgbackrest``, ``pgbackrest-config``:     node
                           3 x D; ``pmm-client``
PostgreSQL repo host       ``pgbackrest``, ``pgbackrest-config``: 2 x D (inits: D, the max rule)   cluster
PostgreSQL PgBouncer       ``pgbouncer-config`` 5m/16Mi                                          proxy
========================= ==================================================================== ====================

``D`` is the LimitRange's ``defaultRequest`` (``DEFAULT_REQUESTS``, 50m/64Mi): what a container without requests is
given, and so what the quota charges for it. ``pmm-client`` requests depend on the engine size (everest-operator's
``Engine.Size``: memory per node >= 32G large, >= 8G medium, else small): the headroom takes the size of the largest
node the policy allows (one node with all the policy's memory; no memory limit: large). Init containers count by the
max rule (a pod requests the larger of its containers' sum and its largest init container); the operators' init
containers (50m/50M, or the engine's own resources) never exceed the sum of the other containers, except for the PITR
pod, counted with the max. Proxies without ``spec.proxy.resources`` get the operators' defaults (HAProxy 190m/195Mi,
ProxySQL 600m/1G, PgBouncer 200m/128Mi), which the policy counts as 0: not covered, the tenant gives proxy resources.

**The reference cluster**: 3 nodes, 3 proxies, monitoring on, PITR on, not sharded; for PXC the ProxySQL proxy (two
sidecars without requests, HAProxy has one). Per engine type (D = 50m/64Mi, PMM small = 95m/99604Ki):

* pxc: 6 x PMM + 6 x D + PITR max(D, 50m/50M) = 920m, 1031.6Mi -> 1032Mi; 3 volumes
* psmdb: 3 x (300m/1G + PMM) = 1185m, 3152.8Mi -> 3153Mi; 3 volumes
* postgresql: 3 x (3D + PMM) + 2D + 3 x 5m/16Mi = 850m, 1043.8Mi -> 1044Mi; 4 volumes (3 nodes + the repo)

The default headroom per cluster is the largest of those over the engines the policy allows (each resource on its
own; memory rounded up to a whole Mi), and the compute quota is ``policy + max_clusters x headroom`` (one cluster when
the policy sets no ``maxClusters``). The quota is a namespace total, so the headroom is pooled: it covers
``max_clusters`` reference clusters, or any mix with as many sidecars in all (a 5-node and a 1-node cluster = two
3-node ones). Larger shapes (more nodes on average, sharded MongoDB: config servers and mongos) need a larger
``quota_headroom``; a smaller one (no monitoring, single nodes) leaves the tenant that much more room than its policy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from fractions import Fraction

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _quantity

# LimitRange defaultRequest of a tenant namespace: the request of a container that states none. The order of the
# Percona operators' own helper containers (init containers 50m/50M); a request, not a limit, so a sidecar that needs
# more (pgBackRest during a backup) is not throttled or killed.
DEFAULT_REQUESTS = {'cpu': '50m', 'memory': '64Mi'}

# everest-operator / Percona operators' defaults (docs/dev/operator-pods.md)
PMM_BY_SIZE = {'small': ('95m', '99604Ki'), 'medium': ('228m', '199168Ki'), 'large': ('228m', '796907Ki')}
SIZE_MEDIUM, SIZE_LARGE = _quantity.parse('8G'), _quantity.parse('32G')
HELPER_INIT = ('50m', '50M')  # pitr-init (and pxc-init, haproxy-init, proxysql-init), crVersion >= 1.14
PSMDB_BACKUP_AGENT = ('300m', '1G')
PGBOUNCER_CONFIG = ('5m', '16Mi')

REFERENCE = {'nodes': 3, 'proxies': 3}  # monitoring and PITR on, not sharded, ProxySQL for PXC
MEBI = 2**20


def _pair(values):
    return (_quantity.parse(values[0]), _quantity.parse(values[1]))


def _add(*pairs):
    return (sum((p[0] for p in pairs), Fraction(0)), sum((p[1] for p in pairs), Fraction(0)))


def _times(count, pair):
    return (count * pair[0], count * pair[1])


def _max(a, b):
    return (max(a[0], b[0]), max(a[1], b[1]))


def engine_size(memory_bytes):
    """everest-operator's ``Engine.Size`` for a node of ``memory_bytes`` (None: no limit, so any size: large)."""
    if memory_bytes is None or memory_bytes >= SIZE_LARGE:
        return 'large'
    return 'medium' if memory_bytes >= SIZE_MEDIUM else 'small'


def breakdown(engine_type, default_requests=None, size='small', nodes=REFERENCE['nodes'], proxies=REFERENCE['proxies']):
    """The extra requests of one cluster of ``engine_type``, part by part: ``[(what, count, (cpu, memory))]`` with the
    per-pod (or per-cluster) pair and how many of them (see the file docstring)."""
    requests = dict(DEFAULT_REQUESTS, **(default_requests or {}))
    dflt = _pair((requests['cpu'], requests['memory']))
    pmm = _pair(PMM_BY_SIZE[size])
    if engine_type == 'pxc':
        return [
            ('node: pmm-client', nodes, pmm),
            ('proxy: pxc-monit, proxysql-monit (default requests), pmm-client', proxies, _add(dflt, dflt, pmm)),
            ('PITR pod: max(pitr (default requests), pitr-init)', 1, _max(dflt, _pair(HELPER_INIT))),
        ]
    if engine_type == 'psmdb':
        return [('node: backup-agent, pmm-client', nodes, _add(_pair(PSMDB_BACKUP_AGENT), pmm))]
    if engine_type == 'postgresql':
        return [
            ('node: replication-cert-copy, pgbackrest, pgbackrest-config (default requests), pmm-client', nodes, _add(dflt, dflt, dflt, pmm)),
            ('repo host: pgbackrest, pgbackrest-config (default requests)', 1, _add(dflt, dflt)),
            ('PgBouncer: pgbouncer-config', proxies, _pair(PGBOUNCER_CONFIG)),
        ]
    return []


def volumes(engine_type, nodes=REFERENCE['nodes']):
    """PersistentVolumeClaims of a cluster (not sharded): one per node, plus the pgBackRest repo for PostgreSQL."""
    if engine_type not in _constants.DB_ENGINE_TYPES:
        return 0
    return nodes + (1 if engine_type == 'postgresql' else 0)


def cluster_overhead(engine_type, default_requests=None, size='small'):
    """(cpu cores, memory bytes) a reference cluster of ``engine_type`` requests beyond what the policy counts."""
    parts = breakdown(engine_type, default_requests, size)
    return _add(*[_times(count, pair) for _what, count, pair in parts]) if parts else (Fraction(0), Fraction(0))


def default_headroom(engine_types, memory_limit=None, default_requests=None):
    """The default headroom per cluster for a policy allowing ``engine_types`` (DatabaseCluster types): the largest
    reference overhead over them, each resource on its own, memory rounded up to a whole Mi.

    Returns ``{'cpu': Fraction cores, 'memory': int bytes, 'volumes': int}`` (zeros when no engine is allowed)."""
    size = engine_size(memory_limit)
    cpu, memory, count = Fraction(0), Fraction(0), 0
    for etype in sorted(set(engine_types)):
        extra_cpu, extra_memory = cluster_overhead(etype, default_requests, size)
        cpu, memory, count = max(cpu, extra_cpu), max(memory, extra_memory), max(count, volumes(etype))
    mebis = -((-memory) // MEBI)  # ceil
    return {'cpu': _quantity.round_up_nano(cpu), 'memory': int(mebis) * MEBI, 'volumes': count}
