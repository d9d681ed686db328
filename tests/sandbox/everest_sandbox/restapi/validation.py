"""Server-side validations of the Everest API (reference §6.3, §6.4).

The rules are those of the reference (``docs/reference/everest.md`` §6.3, §6.4); the message texts follow Everest's validation style
(``invalid request`` + newline + detail is added by the server) but are reconstructed, not copied.
"""

from __future__ import annotations

import re
from fractions import Fraction
from urllib.parse import urlsplit

from ..kubeapi.quantity import Quantity, QuantityError

RFC1035_RE = re.compile(r'^[a-z]([-a-z0-9]*[a-z0-9])?$')
MAX_NAME = 22
MIN_CPU = Fraction(600, 1000)
MIN_MEMORY = Fraction(512 * 10**6)
MIN_STORAGE = Fraction(10**9)
ENGINE_TYPES = ('pxc', 'postgresql', 'psmdb')
PROXY_FOR_ENGINE = {'pxc': ('haproxy', 'proxysql'), 'postgresql': ('pgbouncer',), 'psmdb': ('mongos',)}
PROXY_ERRORS = {
    'pxc': 'you can use either HAProxy or Proxy SQL for MySQL clusters',
    'postgresql': 'you can use only PGBouncer as a proxy type for Postgres clusters',
    'psmdb': 'you can use only Mongos as a proxy type for MongoDB clusters',
}
EXPOSE_TYPES = ('internal', 'external', 'ClusterIP', 'LoadBalancer', 'NodePort')


class Invalid(Exception):
    """400 ``invalid request\\n<detail>`` (Everest validation)."""


class SchemaError(Exception):
    """400 ``request body has an error: ...`` (the body does not match the OpenAPI schema)."""


def check_name(name, field: str = 'metadata.name'):
    if not isinstance(name, str) or not name:
        raise Invalid(f"'{field}' should not be empty")
    if not RFC1035_RE.match(name):
        raise Invalid(
            f"'{field}' is not RFC 1035 compatible. The name should contain only lowercase alphanumeric characters "
            "or '-', start with an alphabetic character, end with an alphanumeric character"
        )
    if len(name) > MAX_NAME:
        raise Invalid(f"'{field}' can be at most {MAX_NAME} characters long")


def _qty(value, field: str) -> Fraction:
    try:
        return Quantity.parse(value).value
    except QuantityError as exc:
        raise SchemaError(f'Error at "{field}": {exc}') from None


def _int(value, field: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f'Error at "{field}": value must be an integer')
    return value


def database_cluster(obj, current=None):
    """Validate a DatabaseCluster body (create when ``current`` is None, else update)."""
    if not isinstance(obj, dict):
        raise SchemaError('value must be an object')
    meta = obj.get('metadata')
    if not isinstance(meta, dict):
        raise Invalid("databaseCluster's metadata should not be empty")
    check_name(meta.get('name'))
    spec = obj.get('spec')
    if not isinstance(spec, dict) or not isinstance(spec.get('engine'), dict):
        raise SchemaError('Error at "/spec/engine": property "engine" is missing')
    engine = spec['engine']
    etype = engine.get('type')
    if etype not in ENGINE_TYPES:
        raise SchemaError(f'Error at "/spec/engine/type": value is not one of the allowed values {list(ENGINE_TYPES)}')
    storage = engine.get('storage')
    if not isinstance(storage, dict) or storage.get('size') is None:
        raise SchemaError('Error at "/spec/engine/storage/size": property "size" is missing')
    replicas = _int(engine.get('replicas'), '/spec/engine/replicas')
    if replicas is not None and replicas < 1:
        raise SchemaError('Error at "/spec/engine/replicas": number must be at least 1')
    nrep = replicas or 1
    if etype in ('pxc', 'psmdb') and nrep % 2 == 0:
        raise Invalid(f'the number of replicas of a {"MySQL" if etype == "pxc" else "MongoDB"} cluster must be odd, got {nrep}')
    if etype == 'pxc' and nrep > 5:
        raise Invalid(f'a MySQL cluster can have at most 5 replicas, got {nrep}')
    resources = engine.get('resources')
    if not isinstance(resources, dict) or resources.get('cpu') is None or resources.get('memory') is None:
        raise Invalid('please specify resource limits for the cluster')
    if _qty(resources['cpu'], '/spec/engine/resources/cpu') < MIN_CPU:
        raise Invalid('CPU limits should be above 600m')
    if _qty(resources['memory'], '/spec/engine/resources/memory') < MIN_MEMORY:
        raise Invalid('memory limits should be above 512M')
    size = _qty(storage['size'], '/spec/engine/storage/size')
    if size < MIN_STORAGE:
        raise Invalid('storage size should be above 1G')
    _proxy(spec.get('proxy'), etype, nrep)
    _backup(spec.get('backup'))
    if current is not None:
        cur_engine = (current.get('spec') or {}).get('engine') or {}
        if cur_engine.get('type') and cur_engine.get('type') != etype:
            raise Invalid('changing the engine type of a database cluster is not supported')
        cur_size = (cur_engine.get('storage') or {}).get('size')
        if cur_size is not None and size < Quantity.parse(cur_size).value:
            raise Invalid('shrinking storage size is not allowed')


def _proxy(proxy, etype: str, engine_replicas: int):
    if proxy is None:
        return
    if not isinstance(proxy, dict):
        raise SchemaError('Error at "/spec/proxy": value must be an object')
    ptype = proxy.get('type')
    if ptype is not None and ptype not in PROXY_FOR_ENGINE[etype]:
        raise Invalid(PROXY_ERRORS[etype])
    preplicas = _int(proxy.get('replicas'), '/spec/proxy/replicas')
    if preplicas is not None and preplicas < 1:
        raise Invalid('the number of proxy replicas must be at least 1')
    if etype == 'pxc' and engine_replicas > 1 and preplicas is not None and preplicas < 2:
        raise Invalid('a MySQL cluster with more than one node needs at least 2 proxy replicas')
    expose = proxy.get('expose')
    if isinstance(expose, dict) and expose.get('type') is not None and expose['type'] not in EXPOSE_TYPES:
        raise SchemaError(f'Error at "/spec/proxy/expose/type": value is not one of the allowed values {list(EXPOSE_TYPES)}')
    presources = proxy.get('resources')
    if isinstance(presources, dict):
        for key in ('cpu', 'memory'):
            if presources.get(key) is not None:
                _qty(presources[key], f'/spec/proxy/resources/{key}')


SCHEDULE_REQUIRED = ('name', 'enabled', 'schedule', 'backupStorageName')


def _backup(backup):
    if backup is None:
        return
    if not isinstance(backup, dict):
        raise SchemaError('Error at "/spec/backup": value must be an object')
    schedules = backup.get('schedules') or []
    if not isinstance(schedules, list):
        raise SchemaError('Error at "/spec/backup/schedules": value must be an array')
    for index, sched in enumerate(schedules):
        # the OpenAPI schema requires every schedule field but retentionCopies (reference §6.4): a missing one is a 400 of the
        # schema check, before Everest's own validation
        if not isinstance(sched, dict):
            raise SchemaError(f'Error at "/spec/backup/schedules/{index}": value must be an object')
        for key in SCHEDULE_REQUIRED:
            if key not in sched:
                raise SchemaError(f'Error at "/spec/backup/schedules/{index}": property "{key}" is missing')
        if not sched.get('name'):
            raise Invalid("'name' field for the backup schedules cannot be empty")
        if sched.get('enabled') and not sched.get('backupStorageName'):
            raise Invalid("'backupStorageName' field cannot be empty when schedule is enabled")
        if not sched.get('schedule'):
            raise Invalid(f"backup schedule '{sched['name']}' has no cron 'schedule'")
    pitr = backup.get('pitr')
    if isinstance(pitr, dict) and 'enabled' not in pitr:
        raise SchemaError('Error at "/spec/backup/pitr": property "enabled" is missing')
    if isinstance(pitr, dict) and pitr.get('enabled') and not pitr.get('backupStorageName'):
        raise Invalid("'backupStorageName' field cannot be empty when pitr is enabled")


def check_url(url, field: str = 'url'):
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ('http', 'https') or not parts.hostname:
        raise Invalid(f"'{field}' is an invalid URL")


BACKUP_STORAGE_FIELDS = (
    'name',
    'type',
    'bucketName',
    'accessKey',
    'secretKey',
    'description',
    'url',
    'region',
    'allowedNamespaces',
    'verifyTLS',
    'forcePathStyle',
)
BACKUP_STORAGE_PATCH = ('bucketName', 'accessKey', 'secretKey', 'description', 'url', 'region', 'allowedNamespaces', 'verifyTLS', 'forcePathStyle')


def _known(body, fields, what):
    if not isinstance(body, dict):
        raise SchemaError('value must be an object')
    for key in body:
        if key not in fields:
            raise SchemaError(f'Error at "/{key}": property "{key}" is unsupported in {what}')


def _string(body, key, required=False):
    value = body.get(key)
    if value is None:
        if required:
            raise SchemaError(f'Error at "/{key}": property "{key}" is missing')
        return
    if not isinstance(value, str):
        raise SchemaError(f'Error at "/{key}": value must be a string')


def _bool(body, key):
    if key in body and not isinstance(body[key], bool):
        raise SchemaError(f'Error at "/{key}": value must be a boolean')


def _strlist(body, key):
    if key in body and body[key] is not None:
        if not isinstance(body[key], list) or not all(isinstance(x, str) for x in body[key]):
            raise SchemaError(f'Error at "/{key}": value must be an array of strings')


def backup_storage(body, create: bool):
    _known(body, BACKUP_STORAGE_FIELDS if create else BACKUP_STORAGE_PATCH, 'CreateBackupStorageParams' if create else 'UpdateBackupStorageParams')
    for key in ('name', 'type', 'bucketName', 'accessKey', 'secretKey'):
        _string(body, key, required=create)
    for key in ('description', 'url', 'region'):
        _string(body, key)
    for key in ('verifyTLS', 'forcePathStyle'):
        _bool(body, key)
    _strlist(body, 'allowedNamespaces')
    if create:
        check_name(body['name'], 'name')
        if body['type'] not in ('s3', 'azure'):
            raise SchemaError('Error at "/type": value is not one of the allowed values ["s3","azure"]')
    if body.get('url'):
        check_url(body['url'])
    for key in ('bucketName', 'accessKey', 'secretKey'):
        if key in body and not body[key]:
            raise Invalid(f"'{key}' should not be empty")


MONITORING_FIELDS = ('name', 'type', 'url', 'pmm', 'allowedNamespaces', 'verifyTLS')
MONITORING_PATCH = ('type', 'url', 'pmm', 'allowedNamespaces', 'verifyTLS')


def monitoring_instance(body, create: bool):
    _known(body, MONITORING_FIELDS if create else MONITORING_PATCH, 'MonitoringInstanceCreateParams' if create else 'MonitoringInstanceUpdateParams')
    for key in ('name', 'type', 'url'):
        _string(body, key, required=create)
    _bool(body, 'verifyTLS')
    _strlist(body, 'allowedNamespaces')
    if create:
        check_name(body['name'], 'name')
    if 'type' in body and body['type'] != 'pmm':
        raise SchemaError('Error at "/type": value is not one of the allowed values ["pmm"]')
    if 'url' in body:
        check_url(body['url'])
    pmm = body.get('pmm')
    if pmm is not None:
        if not isinstance(pmm, dict) or any(k not in ('apiKey', 'user', 'password') for k in pmm):
            raise SchemaError('Error at "/pmm": value must be an object with apiKey, or user and password')
    if create or pmm is not None:
        pmm = pmm or {}
        if not pmm.get('apiKey') and not (pmm.get('user') and pmm.get('password')):
            raise Invalid('pmm key is required: set pmm.apiKey, or pmm.user and pmm.password')
