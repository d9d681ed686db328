"""`everestctl namespaces add|update|remove|list` (reference §4)."""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import re
import time

from . import chartcache, kube, timing
from .accounts import render_table
from .output import Ctx, Failure

SYSTEM_NS = 'everest-system'
MANAGED_LABEL = 'app.kubernetes.io/managed-by'
RESERVED = ('everest-system', 'everest-monitoring', 'everest-olm')
RFC1035 = re.compile(r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')
LIST_EXCLUDED = (
    'kube-system',
    'kube-public',
    'kube-node-lease',
    'everest-system',
    'everest-monitoring',
    'everest-olm',
    'gke-managed-cim',
    'gke-managed-system',
    'gke-managed-volumepopulator',
    'gmp-public',
    'gmp-system',
)
CHART = 'everest-db-namespace'
OLM = 'operators.coreos.com/v1alpha1'
EVEREST_API = 'everest.percona.com/v1alpha1'

# value key -> (subscription/package name, channel, short name, CSV version)
OPERATORS = {
    'pxc': ('percona-xtradb-cluster-operator', 'stable-v1', 'pxc', '1.16.1'),
    'psmdb': ('percona-server-mongodb-operator', 'stable-v1', 'psmdb', '1.19.1'),
    'postgresql': ('percona-postgresql-operator', 'stable-v2', 'postgresql', '2.6.0'),
}
SHORT_BY_SUB = {v[0]: v[2] for v in OPERATORS.values()}
# the operators prompt of add/update (reference §1.5): MySQL, MongoDB, PostgreSQL, all pre-selected
OPERATOR_CHOICES = (('pxc', 'MySQL'), ('psmdb', 'MongoDB'), ('postgresql', 'PostgreSQL'))

ERR_EMPTY = 'namespace list is empty. Specify at least one namespace'
ERR_NO_OPERATORS = 'no operators selected for installation. Minimum one operator must be selected'
ERR_NOT_INSTALLED = 'everest is not installed in the cluster'
ERR_OLD_VERSION = 'operation not supported for this version of Everest'
ERR_CLUSTERS = 'cannot remove namespace with running database clusters. HINT: use --force to remove the namespace and all its resources'
WARN_REMOVAL = 'Removal of an installed operator is not supported. Proceeding without removal.'
POLL_S = 0.05
POLL_TIMEOUT_S = 60.0


def _call(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None


def parse_names(arg: str) -> list[str]:
    """Split on `,`, trim, drop empty items and duplicates (order kept), then validate (reference §4.3)."""
    names: list[str] = []
    for item in arg.split(','):
        item = item.strip()
        if item and item not in names:
            names.append(item)
    if not names:
        raise Failure(ERR_EMPTY)
    for name in names:
        if name in RESERVED:
            raise Failure(f"'{name}' namespace is reserved for Everest internals. Please specify another namespace")
        if len(name) > 63 or not RFC1035.match(name):
            raise Failure(
                "'namespace name' is not RFC 1035 compatible. The name should contain only lowercase alphanumeric "
                "characters or '-', start with an alphabetic character, end with an alphanumeric character"
            )
    return names


def client_for(ctx: Ctx) -> kube.Client:
    try:
        return kube.Client(ctx.kubeconfig)
    except kube.KubeError as exc:
        raise Failure(str(exc)) from None


def _semver(text: str):
    match = re.match(r'^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$', text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), match.group(4)


def _version_less(left, right) -> bool:
    if left[:3] != right[:3]:
        return left[:3] < right[:3]
    return left[3] is not None and right[3] is None


def everest_version(client: kube.Client) -> str | None:
    """Image tag of container `everest` of everest-server (legacy percona-everest), `v` removed; None if absent."""
    for name in ('everest-server', 'percona-everest'):
        dep = _call(client.get_or_none, kube.path('apps/v1', 'deployments', SYSTEM_NS, name))
        if dep is None:
            continue
        containers = dep.get('spec', {}).get('template', {}).get('spec', {}).get('containers') or []
        image = ''
        for cont in containers:
            if cont.get('name') == 'everest':
                image = cont.get('image', '')
        last = image.rsplit('/', 1)[-1]
        tag = last.split('@', 1)[0].rsplit(':', 1)[1] if ':' in last.split('@', 1)[0] else ''
        return tag[1:] if tag.startswith('v') else tag
    return None


def check_helm_installation(client: kube.Client) -> str:
    """CheckHelmInstallation: Everest installed and >= 1.4.0; returns the chart version."""
    version = everest_version(client)
    if version is None:
        raise Failure(ERR_NOT_INSTALLED)
    parsed = _semver(version)
    if parsed is None:
        raise Failure(f'invalid version "{version}"')
    if _version_less(parsed, (1, 4, 0, None)):
        raise Failure(ERR_OLD_VERSION)
    return version


def get_namespace(client: kube.Client, name: str):
    return _call(client.get_or_none, kube.path('v1', 'namespaces', name=name))


def is_managed(namespace: dict | None) -> bool:
    return bool(namespace) and (namespace.get('metadata', {}).get('labels') or {}).get(MANAGED_LABEL) == 'everest'


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f') + 'Z'


# helm release storage -------------------------------------------------------------------------------


def _release_secrets(client: kube.Client, namespace: str) -> list[dict]:
    items = _call(client.list, kube.path('v1', 'secrets', namespace), label_selector=f'owner=helm,name={namespace}')
    return sorted(items.get('items') or [], key=lambda s: int((s['metadata'].get('labels') or {}).get('version', '0')))


def decode_release(secret: dict) -> dict:
    raw = base64.b64decode(base64.b64decode(secret['data']['release']))
    return json.loads(gzip.decompress(raw))


def _encode_release(release: dict) -> str:
    packed = base64.b64encode(gzip.compress(json.dumps(release, separators=(',', ':')).encode(), mtime=0))
    return base64.b64encode(packed).decode()


def _release_manifest(namespace: str, config: dict) -> str:
    docs = [
        '---\n# Source: everest-db-namespace/templates/operatorgroup.yaml\napiVersion: operators.coreos.com/v1\n'
        f'kind: OperatorGroup\nmetadata:\n  name: everest-databases\n  namespace: {namespace}\n'
    ]
    for key, (sub, channel, _short, _ver) in OPERATORS.items():
        if config.get(key):
            docs.append(
                f'---\n# Source: everest-db-namespace/templates/{key}-operator.yaml\napiVersion: {OLM}\n'
                f'kind: Subscription\nmetadata:\n  name: {sub}\n  namespace: {namespace}\nspec:\n'
                f'  channel: {channel}\n  installPlanApproval: Manual\n  name: {sub}\n'
            )
    return ''.join(docs)


def helm_install(client: kube.Client, namespace: str, version: str, config: dict):
    """Install or upgrade release <ns> of chart everest-db-namespace (Secret storage, history max 3)."""
    existing = _release_secrets(client, namespace)
    number = 1
    first = _now()
    if existing:
        last = decode_release(existing[-1])
        got = last.get('chart', {}).get('metadata', {}).get('version', '')
        if got != version:
            raise Failure(f'cannot overwrite existing release with a different chart version. Expected {version}, got {got}')
        number = int(existing[-1]['metadata']['labels'].get('version', '0')) + 1
        first = last.get('info', {}).get('first_deployed', first)
    release = {
        'name': namespace,
        'namespace': namespace,
        'version': number,
        'info': {
            'first_deployed': first,
            'last_deployed': _now(),
            'deleted': '',
            'status': 'deployed',
            'description': 'Upgrade complete' if existing else 'Install complete',
        },
        'chart': {
            'metadata': {
                'name': CHART,
                'version': version,
                'appVersion': version,
                'apiVersion': 'v2',
                'description': 'A Helm chart for installing DB operators managed by Everest',
            },
            'values': {'cleanupOnUninstall': True, 'pxc': True, 'psmdb': True, 'postgresql': True, 'telemetry': True, 'compatibility': {'openshift': False}},
        },
        'config': config,
        'manifest': _release_manifest(namespace, config),
    }
    labels = {'owner': 'helm', 'name': namespace, 'status': 'deployed', 'version': str(number)}
    body = {
        'apiVersion': 'v1',
        'kind': 'Secret',
        'type': 'helm.sh/release.v1',
        'metadata': {'name': f'sh.helm.release.v1.{namespace}.v{number}', 'namespace': namespace, 'labels': labels},
        'data': {'release': _encode_release(release)},
    }
    for old in existing:
        if (old['metadata'].get('labels') or {}).get('status') == 'deployed':
            old_rel = decode_release(old)
            old_rel['info']['status'] = 'superseded'
            old['metadata']['labels']['status'] = 'superseded'
            old['data']['release'] = _encode_release(old_rel)
            _call(client.replace, kube.path('v1', 'secrets', namespace, old['metadata']['name']), old)
    _call(client.create, kube.path('v1', 'secrets', namespace), body)
    for old in existing[: max(0, len(existing) + 1 - 3)]:
        _call(client.delete, kube.path('v1', 'secrets', namespace, old['metadata']['name']))


def _ensure_subscription(client: kube.Client, namespace: str, key: str, telemetry: bool):
    """Create the operator's Subscription if it is missing; returns the created object (None if it existed)."""
    sub_name, channel, _short, _version = OPERATORS[key]
    if _call(client.get_or_none, kube.path(OLM, 'subscriptions', namespace, sub_name)) is not None:
        return None
    body = {
        'apiVersion': OLM,
        'kind': 'Subscription',
        'metadata': {
            'name': sub_name,
            'namespace': namespace,
            'labels': {'app.kubernetes.io/managed-by': 'Helm'},
            'annotations': {'helm.sh/resource-policy': 'keep', 'meta.helm.sh/release-name': namespace, 'meta.helm.sh/release-namespace': namespace},
        },
        'spec': {
            'channel': channel,
            'installPlanApproval': 'Manual',
            'name': sub_name,
            'source': 'everest-catalog',
            'sourceNamespace': 'everest-olm',
            'config': {'env': [{'name': 'DISABLE_TELEMETRY', 'value': 'false' if telemetry else 'true'}]},
        },
    }
    return _call(client.create, kube.path(OLM, 'subscriptions', namespace), body)


def _install_operator(client: kube.Client, namespace: str, key: str, created_sub):
    """What OLM does once the hook Job approved the InstallPlan: the CSV (Succeeded) and the Subscription status."""
    sub_name, _channel, _short, version = OPERATORS[key]
    csv_name = f'{sub_name}.v{version}'
    if created_sub is not None:
        created_sub['status'] = {'state': 'AtLatestKnown', 'installedCSV': csv_name, 'currentCSV': csv_name}
        _call(client.replace, kube.path(OLM, 'subscriptions', namespace, sub_name) + '/status', created_sub)
    csv_path = kube.path(OLM, 'clusterserviceversions', namespace, csv_name)
    if _call(client.get_or_none, csv_path) is None:
        body = {
            'apiVersion': OLM,
            'kind': 'ClusterServiceVersion',
            'metadata': {'name': csv_name, 'namespace': namespace},
            'spec': {'displayName': sub_name, 'version': version, 'replaces': ''},
        }
        created = _call(client.create, kube.path(OLM, 'clusterserviceversions', namespace), body)
        created['status'] = {'phase': 'Succeeded', 'reason': 'InstallSucceeded'}
        _call(client.replace, csv_path + '/status', created)


def label_namespace(client: kube.Client, namespace: str, value):
    """Set (value str) or remove (value None) the managed-by label, GET+PUT retried on conflict."""
    ns_path = kube.path('v1', 'namespaces', name=namespace)
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        obj = _call(client.get, ns_path)
        labels = obj.setdefault('metadata', {}).setdefault('labels', {}) or {}
        if value is None:
            if labels.get(MANAGED_LABEL) != 'everest':
                return
            labels.pop(MANAGED_LABEL, None)
        else:
            labels[MANAGED_LABEL] = value
        obj['metadata']['labels'] = labels
        try:
            client.replace(ns_path, obj)
            return
        except kube.ApiError as exc:
            if not exc.conflict or time.monotonic() > deadline:
                raise Failure(str(exc)) from None
        except kube.KubeError as exc:
            raise Failure(str(exc)) from None


def _ensure_operator_group(client: kube.Client, namespace: str):
    og_path = kube.path('operators.coreos.com/v1', 'operatorgroups', namespace, 'everest-databases')
    if _call(client.get_or_none, og_path) is None:
        body = {
            'apiVersion': 'operators.coreos.com/v1',
            'kind': 'OperatorGroup',
            'metadata': {
                'name': 'everest-databases',
                'namespace': namespace,
                'labels': {'app.kubernetes.io/managed-by': 'Helm'},
                'annotations': {'meta.helm.sh/release-name': namespace, 'meta.helm.sh/release-namespace': namespace},
            },
            'spec': {'targetNamespaces': [namespace]},
        }
        _call(client.create, kube.path('operators.coreos.com/v1', 'operatorgroups', namespace), body)


def provision(client: kube.Client, namespace: str, version: str, opts: dict, model):
    """One namespace of add/update: chart (cache), namespace, OperatorGroup, Helm release, Subscriptions; then the
    latency model's time for the hook Job and OLM (base + per operator newly subscribed), the CSVs and the label."""
    timing.ns_delay()
    if not opts.get('chart_dir'):
        chartcache.ensure_chart(version)
    if get_namespace(client, namespace) is None:
        _call(client.create, kube.path('v1', 'namespaces'), {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': namespace}})
    _ensure_operator_group(client, namespace)
    config = {'cleanupOnUninstall': False, 'pxc': opts['pxc'], 'postgresql': opts['postgresql'], 'psmdb': opts['psmdb'], 'telemetry': opts['telemetry']}
    helm_install(client, namespace, version, config)
    keys = [key for key in ('pxc', 'psmdb', 'postgresql') if opts[key]]
    created = {key: _ensure_subscription(client, namespace, key, opts['telemetry']) for key in keys}
    added = sum(1 for sub in created.values() if sub is not None)
    timing.pause(model.ns_update(added) if opts.get('update') else model.ns_add(added))
    for key in keys:
        _install_operator(client, namespace, key, created[key])
    label_namespace(client, namespace, 'everest')


def add_or_update(ctx: Ctx, arg: str, opts: dict, update: bool):
    """opts: skip_wizard, take_ownership, ask (no operator flag given), pxc, postgresql, psmdb, telemetry, chart_dir."""
    log = ctx.component('namespace-adder')
    names = parse_names(arg)
    client = client_for(ctx)
    for name in names:
        namespace = get_namespace(client, name)
        managed = is_managed(namespace)
        if update:
            if not managed:
                raise Failure(f"'{name}': namespace is not managed by Everest")
        elif namespace is not None and managed:
            raise Failure(f"'{name}': namespace already exists and is managed by Everest")
        elif namespace is not None and not opts['take_ownership']:
            raise Failure(f"'{name}': namespace already exists. HINT: set '--take-ownership' flag to use existing namespaces")
    if opts['ask']:
        if opts['skip_wizard'] and update:
            raise Failure("can't ask user for operators to install: interactive mode is disabled")
        if not opts['skip_wizard']:
            from .output import multi_select  # pylint: disable=import-outside-toplevel

            keys = [key for key, _label in OPERATOR_CHOICES]
            chosen = multi_select('Which operators do you want to install?', [label for _key, label in OPERATOR_CHOICES], ctx.io)
            opts = dict(opts, **dict(zip(keys, chosen)))
    ops = {key: opts[key] for key in ('pxc', 'postgresql', 'psmdb')}
    if not any(ops.values()):
        raise Failure(ERR_NO_OPERATORS)
    version = check_helm_installation(client)
    model = timing.model()
    if update:
        for name in names:
            subs = _call(client.list, kube.path(OLM, 'subscriptions', name)).get('items') or []
            installed = {s['metadata']['name'] for s in subs}
            if any(OPERATORS[key][0] in installed and not ops[key] for key in ops):
                ctx.warn_line(WARN_REMOVAL)
                log.warn(WARN_REMOVAL, 'namespaces/add.go:265')
                break
    action = 'Updating' if update else 'Provisioning'
    steps = []
    for name in names:

        def step(name=name):
            log.info(f'Installing DB namespace Helm chart in namespace {name}', 'namespaces/add.go:340')
            provision(client, name, version, dict(opts, update=update, **ops), model)

        steps.append((f"{action} database namespace '{name}'", step))
    ctx.run_steps(steps, log)


def _delete_all(client: kube.Client, group_version: str, plural: str, namespace: str):
    coll = kube.path(group_version, plural, namespace)
    items = _call(client.list, coll).get('items') or []
    for item in items:
        try:
            client.delete(kube.path(group_version, plural, namespace, item['metadata']['name']))
        except kube.ApiError as exc:
            if not exc.not_found:
                raise Failure(str(exc)) from None
        except kube.KubeError as exc:
            raise Failure(str(exc)) from None
    _wait(lambda: not (_call(client.list, coll).get('items') or []), f'{plural} in namespace {namespace} still exist')


def _wait(cond, what: str):
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not cond():
        if time.monotonic() > deadline:
            raise Failure(f'timed out waiting: {what}')
        time.sleep(POLL_S)


def _uninstall(client: kube.Client, namespace: str):
    """Helm uninstall of release <ns>; the chart's pre-delete hook removes every Subscription and CSV."""
    for plural in ('subscriptions', 'clusterserviceversions'):
        for item in _call(client.list, kube.path(OLM, plural, namespace)).get('items') or []:
            try:
                client.delete(kube.path(OLM, plural, namespace, item['metadata']['name']))
            except kube.ApiError as exc:
                if not exc.not_found:
                    raise Failure(str(exc)) from None
    try:
        client.delete(kube.path('operators.coreos.com/v1', 'operatorgroups', namespace, 'everest-databases'))
    except kube.ApiError as exc:
        if not exc.not_found:
            raise Failure(str(exc)) from None
    for secret in _release_secrets(client, namespace):
        try:
            client.delete(kube.path('v1', 'secrets', namespace, secret['metadata']['name']))
        except kube.ApiError as exc:
            if not exc.not_found:
                raise Failure(str(exc) + '\nfailed to uninstall helm chart') from None


def remove(ctx: Ctx, arg: str, force: bool, keep_namespace: bool):
    names = parse_names(arg)
    client = client_for(ctx)
    for name in names:
        namespace = get_namespace(client, name)
        if namespace is None:
            raise Failure(f"'{name}': namespace does not exist")
        if not is_managed(namespace):
            raise Failure(f"'{name}': namespace is not managed by Everest")
    check_helm_installation(client)
    exists = False
    for name in names:
        try:
            items = client.list(kube.path(EVEREST_API, 'databaseclusters', name)).get('items') or []
        except kube.KubeError as exc:
            raise Failure(f'{exc}\nfailed to check if databases exist') from None
        exists = exists or bool(items)
    if exists and not force:
        raise Failure(ERR_CLUSTERS)
    remove_s = timing.model().seconds('ns_remove_s')
    steps = []
    for name in names:
        steps += [
            (
                f"Deleting database clusters in namespace '{name}'",
                lambda name=name: (timing.ns_delay(), _delete_all(client, EVEREST_API, 'databaseclusters', name)),
            ),
            (f"Deleting backup storages in namespace '{name}'", lambda name=name: _delete_all(client, EVEREST_API, 'backupstorages', name)),
            (f"Deleting monitoring instances in namespace '{name}'", lambda name=name: _delete_all(client, EVEREST_API, 'monitoringconfigs', name)),
        ]
        # the latency model's time for the chart's pre-delete hook Job and the namespace's termination
        if keep_namespace:
            steps.append(
                (
                    f"Deleting resources from namespace '{name}'",
                    lambda name=name: (_uninstall(client, name), timing.pause(remove_s), label_namespace(client, name, None)),
                )
            )
        else:
            steps.append(
                (f"Deleting database namespace '{name}'", lambda name=name: (_uninstall(client, name), timing.pause(remove_s), _delete_namespace(client, name)))
            )
    ctx.run_steps(steps, ctx.component('namespace-remover'))


def _delete_namespace(client: kube.Client, name: str):
    try:
        client.delete(kube.path('v1', 'namespaces', name=name))
    except kube.ApiError as exc:
        if not exc.not_found:
            raise Failure(str(exc)) from None
    _wait(lambda: get_namespace(client, name) is None, f'namespace {name} to be deleted')


def operators_cell(client: kube.Client, namespace: str) -> tuple[bool, str]:
    subs = _call(client.list, kube.path(OLM, 'subscriptions', namespace)).get('items') or []
    if not subs:
        return False, ''
    csvs = {c['metadata']['name']: c for c in _call(client.list, kube.path(OLM, 'clusterserviceversions', namespace)).get('items') or []}
    entries = []
    for sub in subs:
        name = sub['metadata']['name']
        csv_name = (sub.get('status') or {}).get('installedCSV') or ''
        csv = csvs.get(csv_name)
        if csv is None:
            csv = next((c for n, c in sorted(csvs.items()) if n.startswith(name + '.')), None)
        short = SHORT_BY_SUB.get(name, name)
        version = (csv or {}).get('spec', {}).get('version')
        entries.append(f'{short}(v{version})' if version else short)
    return True, ', '.join(sorted(entries))


def list_namespaces(ctx: Ctx, show_all: bool):
    client = client_for(ctx)
    check_helm_installation(client)
    selector = None if show_all else f'{MANAGED_LABEL}=everest'
    items = _call(client.list, kube.path('v1', 'namespaces'), label_selector=selector).get('items') or []
    rows = []
    for item in items:
        name = item['metadata']['name']
        if name in LIST_EXCLUDED or (item.get('status') or {}).get('phase', 'Active') != 'Active':
            continue
        managed, ops = operators_cell(client, name)
        rows.append([name, 'true' if managed else 'false', ops])
    ctx.io.out(render_table(['namespace', 'managed', 'operators'], rows))
