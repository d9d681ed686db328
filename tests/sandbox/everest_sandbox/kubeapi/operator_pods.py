"""The pods and PVCs the Percona operators create for a DatabaseCluster, with their containers' resources.

Pure data: ``plan(dbc) -> [Component]``; ``operators.py`` writes them through the API. Each ``Component`` is one
StatefulSet or Deployment (its members are created in ordinal order); each ``Member`` is one pod and the PVCs its
StatefulSet claims for it. The numbers and the sidecar lists, and where they come from (everest-operator's appliers,
the three Percona operators' pod builders), are in ``docs/dev/operator-pods.md``; a container without a default gets no
resources at all, so a namespace's LimitRange decides what it requests.

Resources of the main containers: ``spec.engine.resources`` (cpu/memory) for the engine container, as limits and
requests; ``spec.proxy.resources`` for the proxy container likewise; without them the defaults everest-operator
writes into the upstream custom resource (PXC engine 600m/1G, HAProxy by engine size, ProxySQL 600m/1G,
PgBouncer 200m/128Mi; PSMDB and PostgreSQL engines and mongos get none).
"""

from __future__ import annotations

import dataclasses
import hashlib

from .quantity import Quantity

GI_8G, GI_32G = Quantity.parse('8G'), Quantity.parse('32G')
OPERATOR = {'pxc': 'percona-xtradb-cluster-operator', 'psmdb': 'percona-server-mongodb-operator', 'postgresql': 'percona-postgresql-operator'}
PART_OF = {'pxc': 'percona-xtradb-cluster', 'psmdb': 'percona-server-mongodb', 'postgresql': 'percona-postgresql'}
IMAGES = {
    'pxc': 'percona/percona-xtradb-cluster:{v}',
    'haproxy': 'percona/haproxy:2.8.15',
    'proxysql': 'percona/proxysql2:2.7.3',
    'pxc-init': 'percona/percona-xtradb-cluster-operator:1.17.0',
    'pitr': 'percona/percona-xtradb-cluster-operator:1.17.0-pitr',
    'mongod': 'percona/percona-server-mongodb:{v}',
    'backup-agent': 'percona/percona-backup-mongodb:2.9.1',
    'mongo-init': 'percona/percona-server-mongodb-operator:1.20.1',
    'postgres': 'percona/percona-postgresql-operator:2.7.0-ppg{v}-postgres',
    'pgbackrest': 'percona/percona-pgbackrest:2.55.0',
    'pgbouncer': 'percona/percona-pgbouncer:1.24.1',
    'pmm-client': 'percona/pmm-client:2.44.1',
}
NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789'
DEFAULT_VERSIONS = {'pxc': '8.0.42-33.1', 'psmdb': '7.0.18-11', 'postgresql': '17'}

# everest-operator defaults (docs/dev/operator-pods.md)
PXC_ENGINE = {'cpu': '600m', 'memory': '1G'}
PXC_INIT = {'limits': {'cpu': '50m', 'memory': '50M'}}  # pxc CheckNSetDefaults, crVersion >= 1.14
PROXYSQL_DEFAULT = {'limits': {'cpu': '600m', 'memory': '1G'}}
HAPROXY_BY_SIZE = {
    'small': {'requests': {'cpu': '190m', 'memory': '195Mi'}, 'limits': {'cpu': '200m', 'memory': '204Mi'}},
    'medium': {'requests': {'cpu': '532m', 'memory': '778Mi'}, 'limits': {'cpu': '560m', 'memory': '820Mi'}},
    'large': {'requests': {'cpu': '818m', 'memory': '2.84Gi'}, 'limits': {'cpu': '861m', 'memory': '3Gi'}},
}
PMM_BY_SIZE = {'small': {'cpu': '95m', 'memory': '99604Ki'}, 'medium': {'cpu': '228m', 'memory': '199168Ki'}, 'large': {'cpu': '228m', 'memory': '796907Ki'}}
PSMDB_BACKUP_AGENT = {'limits': {'cpu': '300m', 'memory': '1G'}}
PGBOUNCER_DEFAULT = {'limits': {'cpu': '200m', 'memory': '128Mi'}}
PGBOUNCER_CONFIG = {'limits': {'cpu': '5m', 'memory': '16Mi'}}


@dataclasses.dataclass
class Member:
    """One pod and the PVCs created for it (name, size, storage class)."""

    name: str
    containers: list
    init_containers: list = dataclasses.field(default_factory=list)
    pvcs: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Component:
    """One StatefulSet/Deployment: members are created in order; the first refusal stops the rest."""

    name: str
    members: list


def container(name: str, image: str, resources: dict | None = None) -> dict:
    out = {'name': name, 'image': image}
    if resources:
        out['resources'] = {k: dict(v) for k, v in resources.items() if v}
    return out


def engine_size(dbc: dict) -> str:
    """``Engine.Size()``: by ``spec.engine.resources.memory`` (>= 32G large, >= 8G medium, else small)."""
    memory = (((dbc.get('spec') or {}).get('engine') or {}).get('resources') or {}).get('memory')
    value = Quantity.parse(memory) if memory not in (None, '') else Quantity(0)
    if value >= GI_32G:
        return 'large'
    return 'medium' if value >= GI_8G else 'small'


def _given(resources: dict | None) -> dict:
    """cpu/memory of a DatabaseCluster ``resources`` block that are set (zero counts as unset, like ``IsZero``)."""
    out = {}
    for key in ('cpu', 'memory'):
        raw = (resources or {}).get(key)
        if raw not in (None, '') and not Quantity.parse(raw).is_zero():
            out[key] = str(raw)
    return out


def _equal(values: dict) -> dict:
    """Requests = limits = ``values``."""
    return {'requests': dict(values), 'limits': dict(values)} if values else {}


def _override(defaults: dict, given: dict) -> dict:
    """``defaults`` with each given resource set as both request and limit (everest-operator's proxy handling)."""
    out = {field: dict(values) for field, values in defaults.items()}
    for name, value in given.items():
        for field in ('requests', 'limits'):
            out.setdefault(field, {})[name] = value
    return out


def _pmm(dbc: dict) -> list:
    spec = dbc.get('spec') or {}
    monitoring = spec.get('monitoring') or {}
    if not monitoring.get('monitoringConfigName'):
        return []
    given = monitoring.get('resources') or {}
    requests = dict(PMM_BY_SIZE[engine_size(dbc)], **(given.get('requests') or {}))
    resources = {'requests': requests}
    if given.get('limits'):
        resources['limits'] = dict(given['limits'])
    return [container('pmm-client', IMAGES['pmm-client'], resources)]


def _suffix(*parts, length: int = 4) -> str:
    """A stable random-looking name part (the alphabet of Kubernetes' generated names)."""
    digest = hashlib.sha256('/'.join(str(p) for p in parts).encode()).digest()
    return ''.join(NAME_CHARS[b % len(NAME_CHARS)] for b in digest[:length])


def _deployment_pod(deployment: str, index: int) -> str:
    """``<deployment>-<replicaset hash>-<5 chars>``, the names a Deployment's pods get."""
    return f'{deployment}-{_suffix(deployment, length=10)}-{_suffix(deployment, index, length=5)}'


def _volume(dbc: dict) -> tuple:
    storage = ((dbc.get('spec') or {}).get('engine') or {}).get('storage') or {}
    return str(storage.get('size', '1Gi')), storage.get('class') or ''


def _replicas(dbc: dict) -> tuple:
    spec = dbc.get('spec') or {}
    engine = spec.get('engine') or {}
    replicas = engine.get('replicas') or 1
    return replicas, (spec.get('proxy') or {}).get('replicas') or replicas


# ------------------------------------------------------------------ per engine
def _pxc(dbc: dict, name: str) -> list:
    spec = dbc.get('spec') or {}
    version = (spec.get('engine') or {}).get('version') or DEFAULT_VERSIONS['pxc']
    replicas, proxy_replicas = _replicas(dbc)
    size, storage_class = _volume(dbc)
    pmm = _pmm(dbc)
    engine_res = _equal(dict(PXC_ENGINE, **_given((spec.get('engine') or {}).get('resources'))))
    init = container('pxc-init', IMAGES['pxc-init'], PXC_INIT)
    out = [
        Component(
            f'{name}-pxc',
            [
                Member(
                    f'{name}-pxc-{i}',
                    [container('pxc', IMAGES['pxc'].format(v=version), engine_res)] + pmm,
                    [init],
                    [(f'datadir-{name}-pxc-{i}', size, storage_class)],
                )
                for i in range(replicas)
            ],
        )
    ]
    proxy = spec.get('proxy') or {}
    proxy_given = _given(proxy.get('resources'))
    if proxy.get('type') == 'proxysql':
        main = container('proxysql', IMAGES['proxysql'], _override(PROXYSQL_DEFAULT, proxy_given))
        sidecars = [container('pxc-monit', IMAGES['proxysql']), container('proxysql-monit', IMAGES['proxysql'])]
        second_init = container('proxysql-init', IMAGES['pxc-init'], PXC_INIT)
        component = 'proxysql'
    else:
        main = container('haproxy', IMAGES['haproxy'], _override(HAPROXY_BY_SIZE[engine_size(dbc)], proxy_given))
        sidecars = [container('pxc-monit', IMAGES['haproxy'])]
        second_init = container('haproxy-init', IMAGES['pxc-init'], PXC_INIT)
        component = 'haproxy'
    out.append(
        Component(f'{name}-{component}', [Member(f'{name}-{component}-{i}', [main] + sidecars + pmm, [init, second_init]) for i in range(proxy_replicas)])
    )
    if ((spec.get('backup') or {}).get('pitr') or {}).get('enabled'):
        out.append(
            Component(
                f'{name}-pitr',
                [Member(_deployment_pod(f'{name}-pitr', 0), [container('pitr', IMAGES['pitr'])], [container('pitr-init', IMAGES['pxc-init'], PXC_INIT)])],
            )
        )
    return out


def _psmdb_replset(dbc: dict, name: str, rs_name: str, count: int, mongod_res: dict) -> Component:
    version = ((dbc.get('spec') or {}).get('engine') or {}).get('version') or DEFAULT_VERSIONS['psmdb']
    size, storage_class = _volume(dbc)
    containers = [
        container('mongod', IMAGES['mongod'].format(v=version), mongod_res),
        container('backup-agent', IMAGES['backup-agent'], PSMDB_BACKUP_AGENT),
    ] + _pmm(dbc)
    init = [container('mongo-init', IMAGES['mongo-init'], mongod_res)]
    return Component(
        f'{name}-{rs_name}',
        [Member(f'{name}-{rs_name}-{i}', containers, init, [(f'mongod-data-{name}-{rs_name}-{i}', size, storage_class)]) for i in range(count)],
    )


def _psmdb(dbc: dict, name: str) -> list:
    spec = dbc.get('spec') or {}
    replicas, proxy_replicas = _replicas(dbc)
    limits = _given((spec.get('engine') or {}).get('resources'))
    mongod_res = {'limits': limits} if limits else {}
    sharding = spec.get('sharding') or {}
    if not sharding.get('enabled'):
        return [_psmdb_replset(dbc, name, 'rs0', replicas, mongod_res)]
    out = [_psmdb_replset(dbc, name, f'rs{k}', replicas, mongod_res) for k in range(max(1, sharding.get('shards') or 1))]
    cfg_replicas = (sharding.get('configServer') or {}).get('replicas') or replicas
    out.append(_psmdb_replset(dbc, name, 'cfg', cfg_replicas, {}))
    mongos_limits = _given((spec.get('proxy') or {}).get('resources'))
    mongos_res = {'limits': mongos_limits} if mongos_limits else {}
    version = (spec.get('engine') or {}).get('version') or DEFAULT_VERSIONS['psmdb']
    out.append(
        Component(
            f'{name}-mongos',
            [
                Member(
                    f'{name}-mongos-{i}',
                    [container('mongos', IMAGES['mongod'].format(v=version), mongos_res)] + _pmm(dbc),
                    [container('mongo-init', IMAGES['mongo-init'], mongos_res)],
                )
                for i in range(proxy_replicas)
            ],
        )
    )
    return out


def _postgresql(dbc: dict, name: str) -> list:
    spec = dbc.get('spec') or {}
    version = ((spec.get('engine') or {}).get('version') or DEFAULT_VERSIONS['postgresql']).split('.')[0]
    replicas, proxy_replicas = _replicas(dbc)
    size, storage_class = _volume(dbc)
    limits = _given((spec.get('engine') or {}).get('resources'))
    db_res = {'limits': limits} if limits else {}
    image = IMAGES['postgres'].format(v=version)
    out = []
    for i in range(replicas):
        instance = f'{name}-instance1-{_suffix(name, "instance1", i)}'
        containers = [
            container('database', image, db_res),
            container('replication-cert-copy', image),
            container('pgbackrest', IMAGES['pgbackrest']),
            container('pgbackrest-config', IMAGES['pgbackrest']),
        ]
        inits = [container('postgres-startup', image, db_res), container('nss-wrapper-init', image, db_res)]
        out.append(Component(instance, [Member(f'{instance}-0', containers + _pmm(dbc), inits, [(f'{instance}-pgdata', size, storage_class)])]))
    out.append(
        Component(
            f'{name}-repo-host',
            [
                Member(
                    f'{name}-repo-host-0',
                    [container('pgbackrest', IMAGES['pgbackrest']), container('pgbackrest-config', IMAGES['pgbackrest'])],
                    [container('pgbackrest-log-dir', IMAGES['pgbackrest']), container('nss-wrapper-init', IMAGES['pgbackrest'])],
                    [(f'{name}-repo1', size, storage_class)],
                )
            ],
        )
    )
    bouncer = {'limits': dict(PGBOUNCER_DEFAULT['limits'], **_given((spec.get('proxy') or {}).get('resources')))}
    out.append(
        Component(
            f'{name}-pgbouncer',
            [
                Member(
                    _deployment_pod(f'{name}-pgbouncer', i),
                    [container('pgbouncer', IMAGES['pgbouncer'], bouncer), container('pgbouncer-config', IMAGES['pgbouncer'], PGBOUNCER_CONFIG)],
                )
                for i in range(proxy_replicas)
            ],
        )
    )
    return out


PLANNERS = {'pxc': _pxc, 'psmdb': _psmdb, 'postgresql': _postgresql}


def plan(dbc: dict) -> list:
    """The components (in creation order) the operators would run for ``dbc``; [] for an unknown engine type."""
    etype = ((dbc.get('spec') or {}).get('engine') or {}).get('type')
    planner = PLANNERS.get(etype)
    return planner(dbc, dbc['metadata']['name']) if planner else []
