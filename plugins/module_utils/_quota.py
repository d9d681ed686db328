# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Usage of a tenant namespace and requests checked against its TenantResourcePolicy (tenant_quota_check, the
enforce_quota of the database cluster modules, tenant_info), and the policy's status.

Usage rule (``cluster_usage``):
per DatabaseCluster, ``engine.replicas x engine.resources`` (``x sharding.shards`` when sharding is enabled)
plus ``proxy.replicas x proxy.resources`` when ``spec.proxy.resources`` is set (proxy replicas default to
the engine replicas); a missing engine ``replicas`` counts as 1; missing engine resources count as 0 and
produce a warning; config servers of sharded MongoDB clusters are not counted. Clusters are counted as
DatabaseCluster objects; DB users are the users bound (``g, <user>, <role>``) in the tenant's RBAC block.

Storage rule (``cluster_usage``, the same in the admission policy and the storage ResourceQuota it matches):
``volumes x engine.storage.size``, where ``volumes`` counts every PersistentVolumeClaim the operators create with
that size: one per node (``engine.replicas x sharding.shards``), plus the config servers of a sharded MongoDB cluster
(``sharding.configServer.replicas``, default the engine replicas), plus the pgBackRest repository volume of a
PostgreSQL cluster (``repo1``, always created). A missing size counts as 0.

Request rule (``evaluate``, shared by tenant_quota_check and everest_database_cluster's enforce_quota): a
request is refused as incomplete, not answered, when ``cluster_name`` names no existing cluster and no ``engine``
is given, or when a new cluster leaves out ``cpu``/``memory`` while the policy limits that dimension; replicas
are at least 1. Engine selectors are read literally: a policy without ``spec.selectors.engines`` (or with an
empty list) allows no engine; tenant_resource_policy writes all four names when ``allowed_engines`` is left out.

``read_inputs`` is the one read of what ``evaluate`` needs (the policy, the namespace's DatabaseClusters, the users of
the tenant's RBAC block).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
from fractions import Fraction

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s, _quantity, _rbac, _rbac_store, _trp_policy
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, ValidationError

ENGINE_CHOICES = tuple(sorted(set(_constants.POLICY_ENGINES) | set(_constants.DB_ENGINE_TYPES)))  # what tenant_quota_check accepts
CONDITION_TYPE = 'WithinLimits'


def engine_type(name):
    """DatabaseCluster engine type for a policy name or an engine type (``mysql`` -> ``pxc``), or None."""
    if name in _constants.DB_ENGINE_TYPES:
        return name
    return _constants.POLICY_ENGINE_TO_TYPE.get(name)


# --------------------------------------------------------------------------------------------------------- usage


def _fraction(value, what, warnings):
    if value is None:
        return Fraction(0)
    try:
        frac = _quantity.parse(value, what)
    except _quantity.QuantityError as exc:
        warnings.append('%s; counted as 0' % exc)
        return Fraction(0)
    return max(frac, Fraction(0))


def _count(value, default):
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(value, 0)


def cluster_usage(dbc):
    """Usage of one DatabaseCluster by the module's rule (see the file docstring).

    Returns ``{'name', 'engine', 'cpu' (Fraction cores), 'memory' (Fraction bytes), 'storage' (Fraction bytes),
    'volumes', 'warnings'}``.
    """
    meta = dbc.get('metadata') or {}
    spec = dbc.get('spec') or {}
    name = '%s/%s' % (meta.get('namespace'), meta.get('name'))
    warnings = []
    engine = spec.get('engine') or {}
    replicas = _count(engine.get('replicas'), 1)
    sharding = spec.get('sharding') or {}
    if sharding.get('enabled') and _count(sharding.get('shards'), 0) > 0:
        replicas *= _count(sharding.get('shards'), 1)
    volumes = replicas
    if engine.get('type') == 'psmdb' and sharding.get('enabled'):
        volumes += _count((sharding.get('configServer') or {}).get('replicas'), 0) or _count(engine.get('replicas'), 1)
    if engine.get('type') == 'postgresql':
        volumes += 1  # the pgBackRest repository (repo1), a PVC of the engine's storage size
    storage = volumes * _fraction((engine.get('storage') or {}).get('size'), 'DatabaseCluster %s storage size' % name, warnings)
    resources = engine.get('resources') or {}
    if resources.get('cpu') is None or resources.get('memory') is None:
        warnings.append(
            'DatabaseCluster %s has no engine resources.%s; counted as 0' % (name, ' or '.join(k for k in ('cpu', 'memory') if resources.get(k) is None))
        )
    cpu = replicas * _fraction(resources.get('cpu'), 'DatabaseCluster %s engine cpu' % name, warnings)
    memory = replicas * _fraction(resources.get('memory'), 'DatabaseCluster %s engine memory' % name, warnings)
    proxy = spec.get('proxy') or {}
    presources = proxy.get('resources')
    if isinstance(presources, dict) and presources:
        preplicas = _count(proxy.get('replicas'), _count(engine.get('replicas'), 1))
        cpu += preplicas * _fraction(presources.get('cpu'), 'DatabaseCluster %s proxy cpu' % name, warnings)
        memory += preplicas * _fraction(presources.get('memory'), 'DatabaseCluster %s proxy memory' % name, warnings)
    return {'name': meta.get('name'), 'engine': engine.get('type'), 'cpu': cpu, 'memory': memory, 'storage': storage, 'volumes': volumes, 'warnings': warnings}


def list_clusters(client, namespace=None):
    """DatabaseClusters of a namespace (or all); [] when the DatabaseCluster CRD is not installed."""
    return _k8s.list_items(client, _k8s.path(_constants.DBC_API_VERSION, _constants.DBC_PLURAL, namespace))


def rbac_block(policy_csv, namespace):
    """(block found?, sorted users bound by ``g, <user>, <role>`` lines inside the tenant's block, IdP groups left out).

    The tenant's block is the managed block named after its namespace (``# BEGIN virakcloud.everest <ns>`` ...
    ``# END virakcloud.everest <ns>``); block parsing is ``_rbac.get_blocks``.
    """
    blocks = _blocks(policy_csv)
    if namespace not in blocks:
        return False, []
    return True, block_users(blocks[namespace])


def rbac_block_groups(policy_csv, namespace):
    """Sorted IdP groups the tenant's block binds (its ``# sso-group`` lines); [] without a block."""
    return sorted(_rbac.block_groups(_blocks(policy_csv).get(namespace)))


def _blocks(policy_csv):
    try:
        return _rbac.get_blocks(policy_csv or '')
    except _rbac.BlockError as exc:
        raise EverestError('ConfigMap %s/%s, key %s: %s' % (_constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP, _constants.RBAC_POLICY_KEY, exc))


def block_users(lines):
    """Sorted names bound by ``g, <user>, <role>`` lines of a block, its IdP groups (``# sso-group`` lines) left out."""
    users = set()
    groups = set(_rbac.block_groups(lines))  # IdP groups are not database users
    for line in lines:
        fields = [f.strip().strip('"') for f in line.strip().split(',')]
        if len(fields) >= 3 and fields[0] == 'g' and fields[1] and not fields[1].startswith(_constants.RBAC_ROLE_PREFIX) and fields[1] not in groups:
            users.add(fields[1])
    return sorted(users)


def read_inputs(client, namespace, policy_name):
    """``(policy, clusters, users)`` for ``evaluate``: the namespace's TenantResourcePolicy (None when there is none; then
    nothing else is read), its DatabaseClusters and the users of the tenant's RBAC block."""
    policy = client.get_or_none(_trp_policy.trp_path(namespace, policy_name))
    if policy is None:
        return None, [], []
    clusters = list_clusters(client, namespace)
    users = rbac_block(_rbac_store.read_policy_text(client), namespace)[1]
    return policy, clusters, users


def namespace_usage(clusters, users, exclude=None):
    """Totals over ``clusters`` (DatabaseCluster objects) except the one named ``exclude``."""
    cpu = Fraction(0)
    memory = Fraction(0)
    storage = Fraction(0)
    count = 0
    warnings = []
    for dbc in clusters:
        use = cluster_usage(dbc)
        if exclude is not None and use['name'] == exclude:
            continue
        count += 1
        cpu += use['cpu']
        memory += use['memory']
        storage += use['storage']
        warnings.extend(use['warnings'])
    return {'clusters': count, 'cpu': cpu, 'memory': memory, 'storage': storage, 'db_users': len(users or ()), 'warnings': warnings}


def usage_view(usage):
    return {
        'clusters': usage['clusters'],
        'cpu_cores': _quantity.to_number(usage['cpu']),
        'memory_bytes': _quantity.value_ceil(usage['memory']),
        'storage_bytes': _quantity.value_ceil(usage['storage']),
        'db_users': usage['db_users'],
    }


def headroom_view(limits, usage):
    """limit - usage per limited dimension (negative when over), None when not limited."""

    def sub(limit, used):
        return None if limit is None else limit - used

    cpu = None if limits['cpu_cores'] is None else _quantity.to_number(_quantity.parse(limits['cpu_cores']) - usage['cpu'])
    return {
        'clusters': sub(limits['max_clusters'], usage['clusters']),
        'cpu_cores': cpu,
        'memory_bytes': None if limits['memory_bytes'] is None else limits['memory_bytes'] - _quantity.value_ceil(usage['memory']),
        'storage_bytes': None if limits['storage_bytes'] is None else limits['storage_bytes'] - _quantity.value_ceil(usage['storage']),
        'db_users': sub(limits['max_db_users'], usage['db_users']),
    }


def over_limits(limits, usage):
    """Names of the dimensions whose current usage is above the limit."""
    over = []
    if limits['max_clusters'] is not None and usage['clusters'] > limits['max_clusters']:
        over.append('clusters')
    if limits['cpu_cores'] is not None and usage['cpu'] > _quantity.parse(limits['cpu_cores']):
        over.append('cpu')
    if limits['memory_bytes'] is not None and usage['memory'] > limits['memory_bytes']:
        over.append('memory')
    if limits['storage_bytes'] is not None and usage['storage'] > limits['storage_bytes']:
        over.append('storage')
    if limits['max_db_users'] is not None and usage['db_users'] > limits['max_db_users']:
        over.append('db_users')
    return over


# ------------------------------------------------------------------------------------------------------ requests


def allowed_engine_text(engines):
    if not engines:
        return 'none (spec.selectors.engines is empty or missing, so the policy allows no engine)'
    return ', '.join('%s (%s)' % (e, _constants.POLICY_ENGINE_TO_TYPE.get(e, '?')) for e in sorted(set(engines)))


def _fmt_cpu(frac):
    return '%s cores' % _quantity.format_cores(frac)


def _fmt_mem(frac):
    return _quantity.format_bytes(_quantity.value_ceil(frac))


def evaluate(namespace, policy, clusters, users, request):
    """Decide a request against a policy. Pure.

    ``request``: ``{'engine', 'replicas', 'cpu', 'memory', 'storage', 'proxy_replicas', 'proxy_cpu', 'proxy_memory',
    'cluster_name', 'db_users'}`` as given (quantities unparsed, None when absent). A cluster request is
    present when ``engine`` is given, or when ``cluster_name`` names an existing cluster (a resize).
    A limit is violated when the request increases that dimension and the new total is above the limit;
    reaching a limit exactly is allowed.

    Incomplete requests raise ``ValidationError`` instead of being answered (``check_new_cluster_request``):
    a ``cluster_name`` that names no cluster without ``engine`` (a mistyped resize would otherwise request
    nothing and pass), and a new cluster without ``cpu``/``memory`` when the policy limits that dimension
    (it would otherwise count as 0 and pass any limit; Everest itself has no default for them, reference §6.4).
    """
    spec = _trp_policy.canonical_spec(policy.get('spec'))
    limits = _trp_policy.limits_view(policy.get('spec'))
    engines = spec['selectors']['engines'] or []
    current = namespace_usage(clusters, users)
    existing = None
    if request.get('cluster_name'):
        for dbc in clusters:
            if (dbc.get('metadata') or {}).get('name') == request['cluster_name']:
                existing = dbc
                break
    resize = existing is not None
    base = namespace_usage(clusters, users, exclude=request['cluster_name']) if resize else current
    violations = []
    warnings = list(current['warnings'])

    req_engine = request.get('engine')
    cluster_request = req_engine is not None or resize
    if not resize:
        check_new_cluster_request(namespace, limits, request)
    req = {'clusters': 0, 'cpu': Fraction(0), 'memory': Fraction(0), 'storage': Fraction(0), 'db_users': int(request.get('db_users') or 0)}
    if cluster_request:
        etype = engine_type(req_engine) if req_engine is not None else None
        shape = _requested_shape(request, existing, etype)
        etype = etype or shape['engine']
        if resize and req_engine is not None and shape['engine'] and etype != shape['engine']:
            raise ValidationError(
                'cluster %s/%s runs engine %s; a resize cannot change it to %s' % (namespace, request['cluster_name'], shape['engine'], req_engine)
            )
        allowed_types = set(_constants.POLICY_ENGINE_TO_TYPE[e] for e in engines if e in _constants.POLICY_ENGINE_TO_TYPE)
        if etype not in allowed_types:
            shown = req_engine if req_engine is not None else etype
            label = shown if shown == etype else '%s (%s)' % (shown, etype)
            violations.append(
                '%s: engine %s is not allowed by TenantResourcePolicy %s/%s; allowed engines: %s'
                % (namespace, label, namespace, policy['metadata']['name'], allowed_engine_text(engines))
            )
        req['clusters'] = 1  # a resize replaces the cluster's own count (``base`` excludes it)
        req['cpu'] = shape['cpu']
        req['memory'] = shape['memory']
        req['storage'] = shape['storage']

    in_use_label = 'in use by other clusters' if resize else 'in use'
    checks = (
        ('clusters', 'clusters', limits['max_clusters'], str, str),
        ('cpu', 'cpu', limits['cpu_cores'], _fmt_cpu, _quantity.format_cores),
        ('memory', 'memory', limits['memory_bytes'], _fmt_mem, _fmt_mem),
        ('storage', 'storage', limits['storage_bytes'], _fmt_mem, _fmt_mem),
        ('db_users', 'db users', limits['max_db_users'], str, str),
    )
    after = {}
    for key, label, limit, fmt_total, fmt_part in checks:
        used_base = base[key] if key != 'db_users' else current['db_users']
        total = used_base + req[key]
        after[key] = total
        if limit is None:
            continue
        limit_frac = _quantity.parse(limit)
        if total > limit_frac and total > current[key] and req[key] > 0:
            violations.append(
                '%s: %s %s would exceed the limit of %s (%s %s, requested %s)'
                % (namespace, label, fmt_total(total), fmt_part(limit_frac), in_use_label, fmt_part(used_base), fmt_part(req[key]))
            )
    return {
        'allowed': not violations,
        'violations': violations,
        'warnings': warnings,
        'resize': resize,
        'limits': limits,
        'allowed_engines': engines,
        'usage': usage_view(current),
        'requested': {
            'clusters': req['clusters'],
            'cpu_cores': _quantity.to_number(req['cpu']),
            'memory_bytes': _quantity.value_ceil(req['memory']),
            'storage_bytes': _quantity.value_ceil(req['storage']),
            'db_users': req['db_users'],
        },
        'usage_after': {
            'clusters': after['clusters'],
            'cpu_cores': _quantity.to_number(after['cpu']),
            'memory_bytes': _quantity.value_ceil(after['memory']),
            'storage_bytes': _quantity.value_ceil(after['storage']),
            'db_users': after['db_users'],
        },
        'headroom': headroom_view(limits, current),
        'within_limits': not over_limits(limits, current),
        'over_limits': over_limits(limits, current),
    }


def check_new_cluster_request(namespace, limits, request):
    """Refuse a request that does not describe a cluster fully enough to be checked (``request`` is not a resize).

    * ``cluster_name`` given, no such cluster, no ``engine``: almost always a mistyped resize; answering it as
      "nothing requested" would let any shape through.
    * a new cluster (``engine`` given) without ``cpu`` (``memory``, ``storage``) while the policy limits CPU (memory,
      storage): the missing value would count as 0 and pass any limit. Everest requires them for every cluster
      (reference §6.4), so there is no default to assume. When the policy does not limit a dimension its value is not
      needed.
    """
    name = request.get('cluster_name')
    if request.get('engine') is None:
        if name:
            raise ValidationError(
                '%s: database cluster %s/%s does not exist, so there is nothing to resize; give engine to check a new cluster '
                'of that name, or fix cluster_name' % (namespace, namespace, name)
            )
        return
    missing = []
    if limits['cpu_cores'] is not None and request.get('cpu') is None:
        missing.append(('cpu', 'the cpu limit of %s' % _quantity.format_cores(_quantity.parse(limits['cpu_cores']))))
    if limits['memory_bytes'] is not None and request.get('memory') is None:
        missing.append(('memory', 'the memory limit of %s' % _fmt_mem(limits['memory_bytes'])))
    if limits['storage_bytes'] is not None and request.get('storage') is None:
        missing.append(('storage', 'the storage limit of %s' % _fmt_mem(limits['storage_bytes'])))
    if missing:
        options = ' and '.join(m[0] for m in missing)
        what = 'a new cluster' if not name else 'new cluster %s/%s' % (namespace, name)
        verb = 'is' if len(missing) == 1 else 'are'
        raise ValidationError(
            '%s: %s %s required to check %s against %s; give %s (cpu and memory per engine replica, storage per volume; '
            'Everest requires all three for every cluster)' % (namespace, options, verb, what, ' and '.join(m[1] for m in missing), options)
        )


def _requested_shape(request, existing, etype=None):
    """cpu/memory/storage of the requested cluster shape; unspecified values fall back to the existing cluster
    (resize). ``etype``: the requested engine type (a new cluster), else the existing cluster's."""
    spec = (existing or {}).get('spec') or {}
    engine = spec.get('engine') or {}
    proxy = spec.get('proxy') or {}
    eres = engine.get('resources') or {}
    pres = proxy.get('resources') or {}

    def pick(key, fallback):
        return request.get(key) if request.get(key) is not None else fallback

    replicas = pick('replicas', engine.get('replicas') if existing else 1)
    cpu = pick('cpu', eres.get('cpu'))
    memory = pick('memory', eres.get('memory'))
    storage = pick('storage', (engine.get('storage') or {}).get('size'))
    preplicas = pick('proxy_replicas', proxy.get('replicas') if pres else None)
    pcpu = pick('proxy_cpu', pres.get('cpu'))
    pmemory = pick('proxy_memory', pres.get('memory'))
    shape_engine = {'type': etype or engine.get('type'), 'replicas': replicas, 'resources': {'cpu': cpu, 'memory': memory}, 'storage': {'size': storage}}
    shape = {'spec': {'engine': shape_engine}}
    if pcpu is not None or pmemory is not None:
        shape['spec']['proxy'] = {'replicas': preplicas, 'resources': {'cpu': pcpu, 'memory': pmemory}}
    if existing and (spec.get('sharding') or {}).get('enabled'):
        shape['spec']['sharding'] = spec['sharding']
    use = cluster_usage(shape)
    return {'engine': engine.get('type'), 'cpu': use['cpu'], 'memory': use['memory'], 'storage': use['storage']}


def validate_request(request):
    """Check a quota-check request before any call (quantities, counts, engine names)."""
    if request.get('engine') is not None and engine_type(request['engine']) is None:
        raise ValidationError('engine %r is unknown; use one of %s' % (request['engine'], ', '.join(ENGINE_CHOICES)))
    for key in ('replicas', 'proxy_replicas'):
        value = request.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError('%s must be an integer of at least 1 (Everest requires at least one replica), got %r' % (key, value))
    value = request.get('db_users')
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError('db_users must be a non-negative integer, got %r' % (value,))
    for key in ('cpu', 'proxy_cpu', 'memory', 'proxy_memory', 'storage'):
        if request.get(key) is not None:
            _trp_policy.non_negative_quantity(request[key], key)


# -------------------------------------------------------------------------------------------------------- status


def utcnow_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def status_for(policy, result, now=None):
    """The status the policy should carry after a check (usage + WithinLimits condition), or None if unchanged."""
    usage = result['usage']
    over = result['over_limits']
    cond_status = 'False' if over else 'True'
    reason = 'OverLimit' if over else 'WithinLimits'
    message = ('usage over the limit for: %s' % ', '.join(over)) if over else 'usage is within every limit'
    old = policy.get('status') or {}
    old_cond = None
    others = []
    for cond in old.get('conditions') or []:
        if cond.get('type') == CONDITION_TYPE:
            old_cond = cond
        else:
            others.append(cond)
    generation = (policy.get('metadata') or {}).get('generation')
    transition = old_cond.get('lastTransitionTime') if old_cond and old_cond.get('status') == cond_status else None
    cond = {'type': CONDITION_TYPE, 'status': cond_status, 'reason': reason, 'message': message, 'lastTransitionTime': transition or now or utcnow_text()}
    if generation is not None:
        cond['observedGeneration'] = generation
    status = {
        'usage': {
            'clusters': usage['clusters'],
            'cpuCores': usage['cpu_cores'],
            'memoryBytes': usage['memory_bytes'],
            'storageBytes': usage['storage_bytes'],
            'dbUsers': usage['db_users'],
        },
        'conditions': others + [cond],
    }
    if generation is not None:
        status['observedGeneration'] = generation
    if _status_key(old, generation) == _status_key(status, generation):
        return None
    return status


def _status_key(status, generation):
    """What decides whether the status must be written: usage, our condition's meaning, the observed generation."""
    cond = None
    for item in status.get('conditions') or []:
        if item.get('type') == CONDITION_TYPE:
            cond = (item.get('status'), item.get('reason'), item.get('message'), item.get('observedGeneration', generation))
    return (status.get('usage'), cond, status.get('observedGeneration', generation) if status else None)


def write_status(client, policy, status):
    meta = policy['metadata']
    return client.patch(_trp_policy.trp_path(meta['namespace'], meta['name'], 'status'), {'status': status}, patch_type='merge')
