# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everest database namespaces: observe (Kubernetes API) -> decide (pure) -> act (everestctl).

Facts (reference §4): "managed" = label ``app.kubernetes.io/managed-by=everest`` on the Namespace; installed operators
= OLM Subscriptions in the namespace with the exact names in ``_constants.OPERATOR_SUBSCRIPTIONS``; ``namespaces
add/update`` can only add operators (reference §4.5); ``namespaces remove`` deletes every DatabaseCluster with ``--force`` (reference §4.6).

Reads (the issue: "Namespace, Subscriptions in it, DatabaseClusters in it"): for one namespace GET Namespace, then,
only when it exists, LIST Subscriptions and LIST DatabaseClusters in it (a missing DatabaseCluster CRD, 404, counts as
none). ``observe_many`` serves batches and the info module with one Namespace LIST, one cluster-wide Subscription LIST
and one cluster-wide DatabaseCluster LIST, whatever the number of namespaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    EverestctlError,
    K8sAlreadyExists,
    K8sConflict,
    ValidationError,
)
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _ownership
from ansible_collections.virakcloud.everest.plugins.module_utils import _retry
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

MANAGED_SELECTOR = '%s=%s' % (_constants.MANAGED_BY_LABEL, _constants.EVEREST_MANAGED_BY)
SUBSCRIPTION_TO_OPERATOR = dict((sub, op) for op, sub in _constants.OPERATOR_SUBSCRIPTIONS.items())

# Seconds one everestctl namespace command may run. everestctl's own worst cases (reference §4.4, §4.6, §8.11): `add`/`update`
# wait up to 600 s per operator CSV in the install hook (3 operators: 1800 s) plus the chart download; `remove --force`
# waits up to 15 min each for database clusters, backup storages and monitoring instances, then up to 5 min for the
# namespace (~50 min). 3600 s stays above both, so our timeout never kills a command everestctl would still finish.
DEFAULT_TIMEOUT = 3600
DEFAULT_ATTEMPTS = 4
# everestctl conflicts: a pause of up to 0.1 s, doubling up to 2 s (full jitter)
CONFLICT_BACKOFF = _retry.Backoff(0.1, 2.0, _retry.FULL_JITTER)

ACTION_NONE, ACTION_ADD, ACTION_UPDATE, ACTION_REMOVE = 'none', 'add', 'update', 'remove'


def namespace_path(name=None):
    return '/api/v1/namespaces/%s' % name if name else '/api/v1/namespaces'


def subscriptions_path(namespace=None):
    if namespace:
        return '/apis/%s/namespaces/%s/subscriptions' % (_constants.SUBSCRIPTION_API_VERSION, namespace)
    return '/apis/%s/subscriptions' % _constants.SUBSCRIPTION_API_VERSION


def database_clusters_path(namespace=None):
    if namespace:
        return '/apis/%s/namespaces/%s/databaseclusters' % (_constants.DBC_API_VERSION, namespace)
    return '/apis/%s/databaseclusters' % _constants.DBC_API_VERSION


# ----------------------------------------------------------------------------------------------- observe


def operators_from_subscriptions(subscriptions):
    """{mysql, postgresql, mongodb: bool} from Subscription objects (exact names, reference §4.5)."""
    names = set(((s.get('metadata') or {}).get('name')) for s in subscriptions or [])
    return dict((op, _constants.OPERATOR_SUBSCRIPTIONS[op] in names) for op in _constants.OPERATORS)


def subscription_summary(subscriptions):
    """[{name, operator, short_name, installed_csv, state}] sorted by name (no secrets in Subscriptions)."""
    rows = []
    for sub in subscriptions or []:
        name = (sub.get('metadata') or {}).get('name')
        status = sub.get('status') or {}
        rows.append(
            {
                'name': name,
                'operator': SUBSCRIPTION_TO_OPERATOR.get(name),
                'short_name': _constants.SUBSCRIPTION_SHORT_NAMES.get(name, name),
                'installed_csv': status.get('installedCSV'),
                'state': status.get('state'),
            }
        )
    return sorted(rows, key=lambda r: r['name'] or '')


def is_terminating(namespace_obj):
    """True when the Namespace is being deleted (phase Terminating or a deletionTimestamp): not Active (reference §4.7)."""
    meta = (namespace_obj or {}).get('metadata') or {}
    phase = ((namespace_obj or {}).get('status') or {}).get('phase')
    return phase == 'Terminating' or bool(meta.get('deletionTimestamp'))


def build_state(name, namespace_obj, subscriptions, clusters=None):
    """The observed state of one namespace (pure). ``clusters`` None = DatabaseClusters not read."""
    if namespace_obj is None:
        return {
            'name': name,
            'exists': False,
            'managed': False,
            'terminating': False,
            'labels': {},
            'operators': dict((op, False) for op in _constants.OPERATORS),
            'subscriptions': [],
            'database_clusters': [] if clusters is not None else None,
        }
    meta = namespace_obj.get('metadata') or {}
    labels = meta.get('labels') or {}
    return {
        'name': name,
        'exists': True,
        'resource_version': meta.get('resourceVersion'),
        'managed': labels.get(_constants.MANAGED_BY_LABEL) == _constants.EVEREST_MANAGED_BY,
        'terminating': is_terminating(namespace_obj),
        'labels': dict(labels),
        'operators': operators_from_subscriptions(subscriptions),
        'subscriptions': subscription_summary(subscriptions),
        'database_clusters': None if clusters is None else sorted((c.get('metadata') or {}).get('name') for c in clusters),
    }


def cluster_names(client, name):
    """Sorted names of the DatabaseClusters in namespace ``name`` (one LIST; no CRD = none)."""
    return sorted((c.get('metadata') or {}).get('name') for c in _k8s.list_items(client, database_clusters_path(name)))


def observe(client, name, with_clusters=False):
    """GET Namespace + LIST its Subscriptions (+ LIST its DatabaseClusters when asked); only the GET when it is missing."""
    namespace_obj = client.get_or_none(namespace_path(name))
    if namespace_obj is None:
        return build_state(name, None, [], [] if with_clusters else None)
    subscriptions = _k8s.list_items(client, subscriptions_path(name))
    clusters = _k8s.list_items(client, database_clusters_path(name)) if with_clusters else None
    return build_state(name, namespace_obj, subscriptions, clusters)


def observe_many(client, names=None, with_clusters=False, managed_only=False):
    """One Namespace LIST + one cluster-wide Subscription LIST (+ one DatabaseCluster LIST) for many namespaces.

    ``names`` None means every namespace (``managed_only`` limits it to Everest-managed ones).
    Returns {name: state}; names that do not exist are included (exists=False) when given explicitly."""
    namespaces = client.list(namespace_path(), label_selector=MANAGED_SELECTOR if managed_only and names is None else None)
    by_name = dict(((n.get('metadata') or {}).get('name'), n) for n in namespaces.get('items') or [])
    subs_by_ns = {}
    for sub in _k8s.list_items(client, subscriptions_path()):
        subs_by_ns.setdefault((sub.get('metadata') or {}).get('namespace'), []).append(sub)
    clusters_by_ns = {}
    if with_clusters:
        for cluster in _k8s.list_items(client, database_clusters_path()):
            clusters_by_ns.setdefault((cluster.get('metadata') or {}).get('namespace'), []).append(cluster)
    wanted = list(names) if names is not None else sorted(by_name)
    states = {}
    for name in wanted:
        states[name] = build_state(name, by_name.get(name), subs_by_ns.get(name, []), clusters_by_ns.get(name, []) if with_clusters else None)
    return states


def list_view(state):
    """What `everestctl namespaces list` shows, from the API side (plus the cluster names).

    ``managed`` is the managed-by label (what everest_namespace manages by); the list's MANAGED column is
    ``operators_installed`` (at least one Subscription of any name, reference §4.7)."""
    clusters = state.get('database_clusters')
    subscriptions = list(state.get('subscriptions') or [])
    return {
        'name': state['name'],
        'exists': state['exists'],
        'managed': state['managed'],
        'operators_installed': bool(subscriptions),
        'terminating': bool(state.get('terminating')),
        'operators': dict(state['operators']),
        'subscriptions': subscriptions,
        'database_clusters': len(clusters) if clusters is not None else None,
        'database_cluster_names': list(clusters) if clusters is not None else None,
    }


def list_managed(client, name=None):
    """The namespaces `everestctl namespaces list` shows (Active, labelled managed-by=everest, not a system namespace),
    or the one ``name`` whatever it is (managed or not, Terminating or not), with operators and clusters."""
    if name is not None:
        state = observe(client, name, with_clusters=True)
        return [list_view(state)] if state['exists'] else []
    states = observe_many(client, with_clusters=True, managed_only=True)
    return [list_view(s) for n, s in sorted(states.items()) if s['managed'] and not s['terminating'] and n not in _constants.NAMESPACES_LIST_HIDDEN]


# ----------------------------------------------------------------------------------------------- decide


def normalize_operators(operators):
    """Options dict -> {mysql, postgresql, mongodb: True/False/None}; ``xtradb_cluster`` is an alias of mysql."""
    operators = dict(operators or {})
    alias = operators.pop('xtradb_cluster', None)
    if operators.get('mysql') is None and alias is not None:
        operators['mysql'] = alias
    return dict((op, operators.get(op)) for op in _constants.OPERATORS)


def validate_item(want):
    """Input checks Everest would make, before any read (reference §4.3: reserved first, then RFC 1035)."""
    name = want.get('name')
    error = _validation.check_tenant_namespace(name, want.get('reserved_namespaces'))
    if error:
        raise ValidationError('namespace %r: %s' % (name, error), name=name)
    if want.get('tenant') is not None:
        error = _validation.check_tenant_name(want['tenant'])
        if error:
            raise ValidationError("namespace '%s': %s" % (name, error), name=name)
    if want.get('state', 'present') == 'present':
        operators = normalize_operators(want.get('operators'))
        if not any(operators.values()):
            raise ValidationError(
                "namespace '%s': %s; set at least one of operators.mysql, operators.postgresql, "
                "operators.mongodb to true" % (name, _validation.NO_OPERATORS_ERROR),
                name=name,
            )
    for key, value in sorted((want.get('labels') or {}).items()):
        if key == _constants.MANAGED_BY_LABEL:
            raise ValidationError(
                "namespace '%s': label '%s' belongs to Everest (it marks the namespace as managed); remove it from labels" % (name, key), name=name
            )
        error = _validation.check_label(key, value)
        if error:
            raise ValidationError("namespace '%s': %s; fix labels" % (name, error), name=name)


def wanted_labels(want):
    """The labels the namespace must carry: O(labels), plus the tenant label when the item names a tenant."""
    labels = dict(want.get('labels') or {})
    if want.get('tenant') is not None:
        labels[_constants.TENANT_LABEL] = want['tenant']
    return labels


def label_changes(state, want):
    """{key: value} of the wanted labels the Namespace does not carry yet; labels not listed are kept."""
    if want.get('state', 'present') != 'present':
        return {}
    current = state.get('labels') or {}
    return dict((k, v) for k, v in wanted_labels(want).items() if current.get(k) != v)


def check_ownership(state, want):
    """Raise OwnershipError when the item would take or remove a namespace another tenant owns (its tenant label).

    A tenant label in O(labels) counts as a claim too, so even a caller without O(tenant) cannot relabel another
    tenant's namespace silently."""
    if not state['exists']:
        return
    owner = (state.get('labels') or {}).get(_constants.TENANT_LABEL)
    how = 'label %s=%s' % (_constants.TENANT_LABEL, owner)
    if want.get('state', 'present') == 'absent':
        _ownership.check_remove(
            'namespace',
            state['name'],
            owner,
            want.get('tenant'),
        )
        return
    claimant = wanted_labels(want).get(_constants.TENANT_LABEL)
    _ownership.check_take('namespace', state['name'], owner, claimant, want.get('takeover_from'), how=how)


class Decision:
    def __init__(self, action, flags=None, take_ownership=False, error=None, warnings=None, after=None, precreate=False):
        self.action = action
        self.flags = flags
        self.take_ownership = take_ownership
        self.precreate = precreate
        self.error = error
        self.warnings = warnings or []
        self.after = after

    def __repr__(self):
        return 'Decision(%r, flags=%r, take_ownership=%r, error=%r)' % (self.action, self.flags, self.take_ownership, self.error)


def _after(exists, managed, operators):
    return {'exists': exists, 'managed': managed, 'operators': dict(operators)}


def decide(state, want):
    """Pure decision for one namespace. ``want``: name, state, operators, take_ownership, ignore_operator_removal,
    keep_namespace, force. Needs ``state['database_clusters']`` (a list) for ``absent`` of an existing namespace."""
    name = want['name']
    before = _after(state['exists'], state['managed'], state['operators'])
    if want.get('state', 'present') == 'absent':
        if not state['exists'] or state.get('terminating'):
            return Decision(ACTION_NONE, after=before)
        if not state['managed']:
            warnings = []
            if not want.get('keep_namespace'):
                warnings.append("namespace '%s' exists but is not managed by Everest; left untouched" % name)
            return Decision(ACTION_NONE, warnings=warnings, after=before)
        clusters = state.get('database_clusters') or []
        if clusters and not want.get('force'):
            return Decision(
                ACTION_NONE,
                error=(
                    "namespace '%s' has %d database cluster(s) (%s); removing it would delete their data; delete them first "
                    "or set force=true" % (name, len(clusters), ', '.join(clusters))
                ),
                after=before,
            )
        gone = dict((op, False) for op in _constants.OPERATORS)
        after = _after(bool(want.get('keep_namespace')), False, gone)
        return Decision(ACTION_REMOVE, after=after)

    requested = normalize_operators(want.get('operators'))
    installed = state['operators']
    warnings = []
    if state['exists'] and state.get('terminating'):
        return Decision(ACTION_NONE, error="namespace '%s' is being deleted (Terminating); wait until it is gone and retry" % name, after=before)
    if state['exists']:
        # also for a namespace to adopt: its existing Subscriptions survive an add with the flag false
        removed = [op for op in _constants.OPERATORS if requested[op] is False and installed[op]]
        if removed:
            if not want.get('ignore_operator_removal'):
                return Decision(
                    ACTION_NONE,
                    error=(
                        "namespace '%s': operator(s) %s are installed but requested false; Everest cannot remove installed "
                        "operators; set them to true (or leave them out), or set ignore_operator_removal=true to keep them "
                        "with a warning" % (name, ', '.join(removed))
                    ),
                    after=before,
                )
            warnings.append("namespace '%s': operator(s) %s stay installed (Everest cannot remove operators)" % (name, ', '.join(removed)))
    flags = dict((op, bool(installed[op] or requested[op])) for op in _constants.OPERATORS)
    tenant = want.get('tenant')
    if not state['exists']:
        flags = dict((op, bool(requested[op])) for op in _constants.OPERATORS)
        # a tenant's namespace is created with its tenant label first (an atomic claim: a second tenant racing for
        # the same name gets AlreadyExists and then sees the owner), then handed to everestctl with --take-ownership
        return Decision(
            ACTION_ADD, flags=flags, warnings=warnings, after=_after(True, True, flags), take_ownership=tenant is not None, precreate=tenant is not None
        )
    if not state['managed']:
        if tenant is not None and (state.get('labels') or {}).get(_constants.TENANT_LABEL) == tenant:
            # ours but not (or no longer) managed: an interrupted `namespaces add`, or a namespace kept at offboarding
            return Decision(ACTION_ADD, flags=flags, take_ownership=True, warnings=warnings, after=_after(True, True, flags))
        if not want.get('take_ownership'):
            return Decision(
                ACTION_NONE,
                error=(
                    "namespace '%s' exists but is not managed by Everest; set take_ownership=true to let Everest adopt it "
                    "(its operators are installed into it)" % name
                ),
                after=before,
            )
        return Decision(ACTION_ADD, flags=flags, take_ownership=True, warnings=warnings, after=_after(True, True, flags))
    if flags == installed:
        return Decision(ACTION_NONE, warnings=warnings, after=before)
    return Decision(ACTION_UPDATE, flags=flags, warnings=warnings, after=_after(True, True, flags))


def namespace_view(state):
    """The returned ``namespace``; ``database_clusters`` is a count for an existing namespace, None for a missing one."""
    clusters = state.get('database_clusters')
    return {
        'name': state['name'],
        'exists': state['exists'],
        'managed': state['managed'],
        'operators': dict(state['operators']),
        'labels': dict(state.get('labels') or {}),
        'database_clusters': len(clusters) if state['exists'] and clusters is not None else None,
    }


def predicted_view(state, decision, labels=None):
    after = decision.after or {}
    view = namespace_view(state)
    if decision.action != ACTION_NONE:
        view.update({'exists': after['exists'], 'managed': after['managed'], 'operators': dict(after['operators'])})
        if decision.action == ACTION_REMOVE:
            view['database_clusters'] = 0 if after['exists'] else None
            view['labels'] = {}
            if after['exists']:  # --keep-namespace removes only Everest's label
                view['labels'] = dict((k, v) for k, v in (state.get('labels') or {}).items() if k != _constants.MANAGED_BY_LABEL)
        elif not state['exists']:
            # the API server labels every Namespace with its name; the chart's hook adds Everest's label
            view['labels'] = {_constants.NAME_LABEL: state['name'], _constants.MANAGED_BY_LABEL: _constants.EVEREST_MANAGED_BY}
            view['database_clusters'] = 0  # a namespace everestctl creates holds no cluster yet
        else:  # add --take-ownership / update: the hook (re)sets Everest's label, other labels stay
            view['labels'][_constants.MANAGED_BY_LABEL] = _constants.EVEREST_MANAGED_BY
    if labels:
        view['labels'].update(labels)
    return view


def _snapshot(state):
    return {'exists': state['exists'], 'managed': state['managed'], 'operators': dict(state['operators']), 'labels': dict(state.get('labels') or {})}


def apply_labels(client, name, changes, resource_version=None):
    """Merge-patch ``changes`` into the Namespace's labels (other labels are untouched). With ``resource_version`` the
    patch applies only to the object that was read and checked (409 otherwise): a claim cannot overwrite a concurrent one."""
    meta = {'labels': dict(changes)}
    if resource_version:
        meta['resourceVersion'] = resource_version
    client.patch(namespace_path(name), {'metadata': meta})


def precreate(client, name, labels):
    """Create the Namespace with the tenant's labels (False when it exists already: the caller re-reads)."""
    try:
        client.create(namespace_path(), {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name, 'labels': dict(labels)}})
    except K8sAlreadyExists:
        return False
    return True


# ----------------------------------------------------------------------------------------------- act


def _argv_values(decision, want):
    if decision.action == ACTION_ADD:
        values = dict(decision.flags)
        values.update(name=want['name'], take_ownership=decision.take_ownership)
        return 'namespaces_add', values
    if decision.action == ACTION_UPDATE:
        values = dict(decision.flags)
        values.update(name=want['name'])
        return 'namespaces_update', values
    return 'namespaces_remove', {'name': want['name'], 'keep_namespace': bool(want.get('keep_namespace')), 'force': bool(want.get('force'))}


def command_for(decision, want):
    """(shape, values) for a decision that acts; None for ACTION_NONE."""
    if decision.action == ACTION_NONE:
        return None
    return _argv_values(decision, want)


def _decide_checked(state, want):
    decision = decide(state, want)
    if decision.error:
        raise ValidationError(decision.error, name=want['name'])
    check_ownership(state, want)
    return decision


def _claim_labels(client, name, state, want, attempts=DEFAULT_ATTEMPTS):
    """Put the wanted labels on the Namespace, conditionally on the version whose ownership was checked; a concurrent
    change is re-read and checked again. Returns (labels changed, state after)."""
    for _attempt in range(attempts):
        labels = label_changes(state, want)
        if not labels:
            return {}, state
        try:
            apply_labels(client, name, labels, state.get('resource_version'))
        except K8sConflict:
            state = observe(client, name, with_clusters=True)
            check_ownership(state, want)
            continue
        return labels, dict(state, labels=dict(state.get('labels') or {}, **labels))
    raise EverestError("namespace '%s': its labels kept changing while this task set them; retry" % name, name=name)


def converge_namespace(client, runner, want, check_mode=False, state=None, timeout=DEFAULT_TIMEOUT, attempts=DEFAULT_ATTEMPTS, sleep=time.sleep, rng=None):
    """Bring one namespace to ``want``. Returns {changed, action, namespace, before, after, cmd, warnings}."""
    rng = rng or random.Random()
    name = want['name']
    if state is None:
        state = observe(client, name, with_clusters=True)
    elif state['exists'] and state.get('database_clusters') is None:
        state = dict(state, database_clusters=cluster_names(client, name))
    decision = _decide_checked(state, want)
    result = {
        'name': name,
        'changed': decision.action != ACTION_NONE,
        'action': decision.action,
        'before': _snapshot(state),
        'cmd': None,
        'warnings': list(decision.warnings),
    }
    if decision.action == ACTION_NONE or check_mode:
        labels = label_changes(state, want)
        if labels and not check_mode:
            labels, state = _claim_labels(client, name, state, want)
        view = predicted_view(state, decision, labels)
        result['namespace'] = view
        result['after'] = dict(decision.after, labels=dict(view['labels']))
        result['labels_changed'] = sorted(labels)
        result['changed'] = result['changed'] or bool(labels)
        command = command_for(decision, want)
        if check_mode and command:
            result['cmd'] = runner.preview(command[0], **command[1])
        return result

    performed = []
    for attempt in range(attempts):
        if decision.precreate and not precreate(client, name, wanted_labels(want)):
            state = observe(client, name, with_clusters=True)  # created meanwhile: whose is it?
            decision = _decide_checked(state, want)
            continue
        shape, values = command_for(decision, want)
        try:
            outcome = runner.run(shape, timeout=timeout, **values)
            performed.append(decision.action)
            result['cmd'] = outcome.cmd
        except EverestctlError as exc:
            if exc.kind == 'conflict':
                CONFLICT_BACKOFF.pause(attempt, sleep, rng)
            elif exc.kind == 'already_exists' and decision.action == ACTION_ADD:
                pass  # someone else added it meanwhile: re-read and decide again (maybe an update)
            elif exc.kind in ('namespace_missing',) and decision.action == ACTION_REMOVE:
                pass
            elif exc.kind == 'not_managed' and decision.action == ACTION_REMOVE:
                pass
            else:
                raise
        state = observe(client, name, with_clusters=True)
        decision = _decide_checked(state, want)
        if decision.action == ACTION_NONE:
            break
    else:
        raise EverestError("namespace '%s': still not in the wanted state after %d attempts" % (name, attempts), name=name)
    labels, state = _claim_labels(client, name, state, want)
    result['changed'] = bool(performed) or bool(labels)
    result['action'] = performed[-1] if performed else ACTION_NONE
    result['labels_changed'] = sorted(labels)
    result['namespace'] = namespace_view(state)
    result['after'] = _snapshot(state)
    return result


def converge_namespaces(client, runner, wants, check_mode=False, **kwargs):
    """Batch form: one Namespace LIST + one Subscription LIST + one DatabaseCluster LIST serve every item."""
    names = [w['name'] for w in wants]
    states = observe_many(client, names, with_clusters=True)
    results = []
    for want in wants:
        try:
            results.append(converge_namespace(client, runner, want, check_mode=check_mode, state=states[want['name']], **kwargs))
        except EverestError as exc:
            item = {'name': want['name'], 'changed': False, 'failed': True}
            item.update(exc.to_fail_kwargs())
            results.append(item)
    return results
