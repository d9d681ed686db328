"""ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver/pkg/admission/plugin/policy/validating, generic,
matching; cel/activation.go).

Runs in the validating phase, before ResourceQuota. Policies and bindings are read from the store at the moment
of the request (a real server sees them through informers, within a second).

For every policy (by name) that has bindings and matches the request (namespaceSelector, objectSelector,
excludeResourceRules, resourceRules, with operations, ``*``, subresources, scope; ``matchPolicy: Equivalent``
ignores the rule's version), every binding (by name) whose ``matchResources`` also match, the params are
collected (``paramKind`` + ``paramRef``: by name or by selector, in the request's namespace when
``paramRef.namespace`` is empty; nothing found -> no evaluation with ``Allow``, a configuration error with
``Deny``) and each param is evaluated: ``matchConditions`` (any false skips), then ``variables`` (lazily: only
those an expression refers to), the validations, the messages of the failed ones and the audit annotations.
A failed validation is a decision with the validation's ``reason`` (default Invalid) and the message chosen as
upstream (messageExpression, else message, else ``failed expression: <expr>``); an evaluation error follows
``failurePolicy`` (Fail -> deny with ``expression '<expr>' resulted in error: <err>``, Ignore -> admit).
Configuration errors (unknown paramKind, missing params with Deny, a namespaced paramKind for a cluster-scoped
request) also follow ``failurePolicy``: ``failed to configure binding: <err>``.

Per binding the decision's actions apply: Deny collects it (only the first denial is reported, as
``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: <msg>``,
reason/code from the decision: Invalid 422, Forbidden 403, Unauthorized 401, RequestEntityTooLarge 413, and
``details.causes`` carrying the message); Warn adds the ``Warning`` header ``Validation failed for
ValidatingAdmissionPolicy '<p>' with binding '<b>': <msg>``; Audit records the audit annotation
``validation.policy.admission.k8s.io/validation_failure``. Audit annotations (``auditAnnotations`` and the
failures) are kept in memory per request and served at ``GET /_sandbox/audit`` (the sandbox has no audit log).

Not emulated: the ``authorizer`` variable (declared, null at run time), type checking warnings in the policy
status, the informer delay.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid

from . import cel
from .errors import ApiError
from .selectors import selector_matches
from .vap_objects import BINDINGS, POLICIES

VALIDATION_FAILURE = 'validation.policy.admission.k8s.io/validation_failure'
OUT_OF_BUDGET = 'validation failed due to running out of cost budget, no further validation rules will be run'
REASON_CODES = {'Forbidden': 403, 'Unauthorized': 401, 'RequestEntityTooLarge': 413, 'Invalid': 422}
MAX_MESSAGE = 5 * 1024
MATCH_CONDITION_BUDGET = 2_500_000


class ConfigError(Exception):
    """A policy or binding that cannot be applied to this request (goes through failurePolicy)."""


class Decision:  # pylint: disable=too-few-public-methods
    def __init__(self, action: str, message: str = '', reason: str = '', index: int = 0):
        self.action = action  # 'admit' | 'deny'
        self.message = message
        self.reason = reason
        self.index = index


# ---------------------------------------------------------------------------------------------- rules


def _rule_matches(rule, attrs, equivalent: bool) -> bool:
    rtype = attrs.rtype
    scope = rule.get('scope') or '*'
    is_namespace = rtype.storage_key == ('', 'namespaces')
    if scope == 'Namespaced' and (is_namespace or not attrs.namespace):
        return False
    if scope == 'Cluster' and not (is_namespace or not attrs.namespace):
        return False
    if not any(op in ('*', attrs.operation) for op in rule.get('operations') or []):
        return False
    if not any(g in ('*', rtype.group) for g in rule.get('apiGroups') or []):
        return False
    if not equivalent and not any(v in ('*', rtype.version) for v in rule.get('apiVersions') or []):
        return False
    for resource in rule.get('resources') or []:
        res, _sep, sub = resource.partition('/')
        if res in ('*', rtype.plural) and sub in ('*', attrs.subresource):
            return not rule.get('resourceNames') or attrs.name in rule['resourceNames']
    return False


def _rules_match(rules, attrs, equivalent) -> bool:
    return any(_rule_matches(rule, attrs, equivalent) for rule in rules or [])


def match_resources(store, match, attrs, binding: bool = False) -> bool:
    """matching.Matches for a policy's matchConstraints or a binding's matchResources."""
    if match is None:
        return binding
    namespace_labels = _namespace_labels(store, attrs)
    if namespace_labels is not None and not selector_matches(match.get('namespaceSelector'), namespace_labels):
        return False
    objects = [o for o in (attrs.obj, attrs.old) if o is not None]
    selector = match.get('objectSelector')
    if selector and not any(selector_matches(selector, (o.get('metadata') or {}).get('labels')) for o in objects):
        return False
    equivalent = match.get('matchPolicy', 'Equivalent') == 'Equivalent'
    if _rules_match(match.get('excludeResourceRules'), attrs, equivalent):
        return False
    if not match.get('resourceRules'):
        return True
    return _rules_match(match['resourceRules'], attrs, equivalent)


def _namespace_labels(store, attrs):
    """Labels the namespaceSelector sees; None when it does not apply (cluster-scoped, not a Namespace)."""
    if attrs.rtype.storage_key == ('', 'namespaces'):
        obj = attrs.obj if attrs.obj is not None else attrs.old
        return (obj.get('metadata') or {}).get('labels') or {}
    if not attrs.namespace:
        return None
    namespace = store.data.get(('', 'namespaces'), {}).get(('', attrs.namespace)) or {}
    return (namespace.get('metadata') or {}).get('labels') or {}


# ---------------------------------------------------------------------------------------------- params


def _param_type(store, kind: dict):
    api_version = kind.get('apiVersion', '')
    group, _sep, version = api_version.rpartition('/')
    for rtype in store.registry.all():
        if rtype.group == group and rtype.version == version and rtype.kind == kind.get('kind'):
            return rtype
    raise ConfigError(f"failed to find resource referenced by paramKind: '{group}/{version}, Kind={kind.get('kind')}'")


def collect_params(store, policy_spec: dict, param_type, binding_spec: dict, namespace: str) -> list:
    """CollectParams: a list of param objects ([None] when the policy or binding uses none)."""
    ref = binding_spec.get('paramRef')
    if policy_spec.get('paramKind') is None or ref is None:
        return [None]
    ref_ns = ref.get('namespace') or ''
    if param_type.namespaced:
        ref_ns = ref_ns or namespace
        if not ref_ns:
            raise ConfigError('cannot use namespaced paramRef in policy binding that matches cluster-scoped resources')
    elif ref_ns:
        raise ConfigError('paramRef.namespace must not be provided for a cluster-scoped `paramKind`')
    bucket = store.data.get(param_type.storage_key, {})
    candidates = [obj for (ns, _name), obj in sorted(bucket.items()) if ns == (ref_ns if param_type.namespaced else '')]
    if ref.get('name'):
        params = [obj for obj in candidates if obj['metadata']['name'] == ref['name']]
    elif ref.get('selector') is not None:
        params = [obj for obj in candidates if selector_matches(ref['selector'], obj['metadata'].get('labels'))]
    else:
        raise ConfigError('one of name or selector must be provided')
    if not params and ref.get('parameterNotFoundAction') == 'Deny':
        raise ConfigError('no params found for policy binding with `Deny` parameterNotFoundAction')
    return [dict({'apiVersion': param_type.api_version, 'kind': param_type.kind}, **copy.deepcopy(p)) for p in params]


# ---------------------------------------------------------------------------------------------- compiled policy


class CompiledPolicy:  # pylint: disable=too-few-public-methods
    """The expressions of one policy version, compiled once."""

    def __init__(self, spec: dict):
        has_params = spec.get('paramKind') is not None
        names: list = []
        self.variables = []
        for var in spec.get('variables') or []:
            self.variables.append((var['name'], cel.Program(var['expression'], 'any', has_params, True, tuple(names))))
            names.append(var['name'])
        declared = tuple(names)
        self.conditions = [(c['name'], cel.Program(c['expression'].strip(), 'bool', has_params, True, declared)) for c in spec.get('matchConditions') or []]
        self.validations = []
        for val in spec.get('validations') or []:
            message = None
            if (val.get('messageExpression') or '').strip():
                message = cel.Program(val['messageExpression'], 'string', has_params, False, declared)
            self.validations.append((val, cel.Program(val['expression'], 'bool', has_params, True, declared), message))
        self.audits = [(a['key'], cel.Program(a['valueExpression'].strip(), 'audit', has_params, True, declared)) for a in spec.get('auditAnnotations') or []]


class _Evaluation:
    """Inputs and lazily evaluated variables of one (binding, param) evaluation, with its cost budget."""

    def __init__(self, compiled: CompiledPolicy, base: dict, budget: int):
        self.compiled = compiled
        self.base = base
        self.values: dict = {}
        self.errors: dict = {}
        self.budget = budget
        self.largest = max(cel.largest_collection(base.get(k)) for k in ('object', 'oldObject', 'params'))

    def _charge(self, cost: int):
        self.budget -= cost
        if self.budget < 0:
            raise BudgetExceeded(OUT_OF_BUDGET)

    def _variable(self, name: str):
        if name in self.values or name in self.errors:
            return
        program = dict(self.compiled.variables).get(name)
        if program is None:
            return
        for used in program.used_variables:
            self._variable(used)
        try:
            value, cost = program.evaluate(self._activation(program), self.largest)
            self._charge(cost)
            self.values[name] = value
        except cel.EvalError as exc:
            self.errors[name] = str(exc)

    def _activation(self, program) -> dict:
        return dict(self.base, variables={n: self.values[n] for n in program.used_variables if n in self.values})

    def run(self, program):
        """Value of ``program``; raises cel.EvalError (with the expression prefix) or BudgetExceeded."""
        for name in program.used_variables:
            self._variable(name)
            if name in self.errors:
                raise cel.EvalError(f"expression '{program.source}' resulted in error: {self.errors[name]}")
        try:
            value, cost = program.evaluate(self._activation(program), self.largest)
        except cel.EvalError as exc:
            if str(exc) == cel.COST_EXCEEDED:
                self._charge(cel.PER_CALL_LIMIT)
            raise cel.EvalError(f"expression '{program.source}' resulted in error: {exc}") from None
        self._charge(cost)
        return value


class BudgetExceeded(Exception):
    """The policy-wide cost budget ran out."""


# ---------------------------------------------------------------------------------------------- plugin


class ValidatingAdmissionPolicy:
    """The admission plugin; ``audit`` holds the audit annotations of admitted and refused requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._compiled: dict = {}
        self.audit: list = []

    @staticmethod
    def handles(attrs) -> bool:
        return attrs.rtype.storage_key not in (POLICIES, BINDINGS)

    def clear_audit(self):
        with self._lock:
            self.audit = []

    def audit_events(self) -> list:
        with self._lock:
            return copy.deepcopy(self.audit)

    def _compile(self, policy: dict) -> CompiledPolicy:
        key = (policy['metadata'].get('uid'), policy['metadata'].get('resourceVersion'))
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = CompiledPolicy(policy['spec'])
            return self._compiled[key]

    def validate(self, store, attrs):
        bindings: dict = {}
        for binding in store.data.get(BINDINGS, {}).values():
            bindings.setdefault(binding['spec'].get('policyName'), []).append(binding)
        if not bindings:
            return
        denied, failures, annotations = [], [], {}
        with cel.evaluation():
            for (_ns, name), policy in sorted(store.data.get(POLICIES, {}).items()):
                if name in bindings:
                    self._policy(store, attrs, policy, sorted(bindings[name], key=lambda b: b['metadata']['name']), (denied, failures, annotations))
        self._record(attrs, failures, annotations)
        if denied:
            raise _denial(attrs, *denied[0])

    def _policy(self, store, attrs, policy, bindings, out):
        denied = out[0]
        spec = policy['spec']
        fail = spec.get('failurePolicy', 'Fail') == 'Fail'
        if not match_resources(store, spec.get('matchConstraints'), attrs):
            return
        try:
            param_type = _param_type(store, spec['paramKind']) if spec.get('paramKind') else None
        except ConfigError as exc:
            if fail:
                denied.append((policy, None, Decision('deny', f'failed to configure policy: {exc}')))
            return
        compiled = self._compile(policy)
        for binding in bindings:
            if not match_resources(store, binding['spec'].get('matchResources'), attrs, binding=True):
                continue
            try:
                params = collect_params(store, spec, param_type, binding['spec'], attrs.namespace)
            except ConfigError as exc:
                if fail:
                    denied.append((policy, binding, Decision('deny', f'failed to configure binding: {exc}')))
                continue
            base = _inputs(store, attrs)
            for param in params:
                decisions, audits = _validate(compiled, dict(base, params=cel.to_cel(param)), fail)
                self._apply(store, policy, binding, decisions, out)
                for key, value in audits:
                    out[2][f'{policy["metadata"]["name"]}/{key}'] = value

    @staticmethod
    def _apply(store, policy, binding, decisions, out):
        denied, failures, _annotations = out
        actions = binding['spec'].get('validationActions') or []
        pname, bname = policy['metadata']['name'], binding['metadata']['name']
        for decision in decisions:
            if decision.action != 'deny':
                continue
            if 'Deny' in actions:
                denied.append((policy, binding, decision))
            if 'Audit' in actions:
                failures.append(
                    {
                        'message': decision.message,
                        'policy': binding['spec'].get('policyName'),
                        'binding': bname,
                        'expressionIndex': decision.index,
                        'validationActions': list(actions),
                    }
                )
            if 'Warn' in actions:
                store.warn(f"Validation failed for ValidatingAdmissionPolicy '{pname}' with binding '{bname}': {decision.message}")

    def _record(self, attrs, failures, annotations):
        if failures:
            annotations[VALIDATION_FAILURE] = json.dumps(failures[:50], separators=(',', ':'))
        if not annotations or attrs.dry_run:
            return
        user = attrs.user or {}
        with self._lock:
            self.audit.append(
                {
                    'operation': attrs.operation,
                    'group': attrs.rtype.group,
                    'version': attrs.rtype.version,
                    'resource': attrs.rtype.plural,
                    'subresource': attrs.subresource,
                    'namespace': attrs.namespace,
                    'name': attrs.name,
                    'user': user.get('username', ''),
                    'annotations': annotations,
                }
            )


def _validate(compiled: CompiledPolicy, base: dict, fail: bool) -> tuple:
    """(decisions, audit annotations) of one evaluation (validator.Validate)."""
    on_error = 'deny' if fail else 'admit'
    conditions = _Evaluation(compiled, dict(base, namespaceObject=None), MATCH_CONDITION_BUDGET)
    errors = []
    for _name, program in compiled.conditions:
        try:
            if conditions.run(program) is False:
                return [], []
        except (cel.EvalError, BudgetExceeded) as exc:
            errors.append(str(exc))
    if errors:
        return [Decision(on_error, errors[0] if len(errors) == 1 else '[' + ', '.join(errors) + ']')], []
    evaluation = _Evaluation(compiled, base, cel.RUNTIME_BUDGET)
    decisions = []
    try:
        for index, (validation, program, message_program) in enumerate(compiled.validations):
            decisions.append(_decide(evaluation, index, validation, program, message_program, on_error))
    except BudgetExceeded:
        return [Decision(on_error, OUT_OF_BUDGET)], []
    return decisions, _audit_values(compiled, base, on_error, decisions)


def _decide(evaluation, index, validation, program, message_program, on_error) -> Decision:
    try:
        value = evaluation.run(program)
    except cel.EvalError as exc:
        return Decision(on_error, str(exc), index=index)
    if value is True:
        return Decision('admit', index=index)
    message = ''
    if message_program is not None:
        try:
            text = evaluation.run(message_program)
            if isinstance(text, str):
                text = text.strip()
                message = '' if len(text.encode()) > MAX_MESSAGE or '\n' in text else text
        except cel.EvalError:
            message = ''  # only logged by kube-apiserver
    message = message or (validation.get('message') or '').strip() or f'failed expression: {validation["expression"].strip()}'
    return Decision('deny', message, validation.get('reason') or 'Invalid', index)


def _audit_values(compiled, base, on_error, decisions) -> list:
    values = []
    evaluation = _Evaluation(compiled, base, cel.RUNTIME_BUDGET)
    for key, program in compiled.audits:
        try:
            value = evaluation.run(program)
        except (cel.EvalError, BudgetExceeded) as exc:
            if on_error == 'deny':
                decisions.append(Decision('deny', str(exc)))
            continue
        if isinstance(value, str) and value.strip():
            values.append((key, value.strip()[: 10 * 1024]))
    return values


def _inputs(store, attrs) -> dict:
    """object, oldObject, request and namespaceObject as CEL sees them."""
    user = attrs.user or {}
    rtype = attrs.rtype
    kind = {'group': rtype.group, 'version': rtype.version, 'kind': rtype.kind}
    resource = {'group': rtype.group, 'version': rtype.version, 'resource': rtype.plural}
    request = {
        'uid': str(uuid.uuid4()),
        'kind': kind,
        'resource': resource,
        'subResource': attrs.subresource,
        'requestKind': kind,
        'requestResource': resource,
        'requestSubResource': attrs.subresource,
        'name': attrs.name,
        'namespace': attrs.namespace,
        'operation': attrs.operation,
        'userInfo': {
            'username': user.get('username', ''),
            'uid': user.get('uid', ''),
            'groups': list(user.get('groups') or []),
            'extra': dict(user.get('extra') or {}),
        },
        'dryRun': bool(attrs.dry_run),
        'options': {},
    }
    namespace = None
    if attrs.namespace and rtype.storage_key != ('', 'namespaces'):
        namespace = store.data.get(('', 'namespaces'), {}).get(('', attrs.namespace))
    return {
        'object': cel.to_cel(attrs.obj),
        'oldObject': cel.to_cel(attrs.old),
        'request': request,
        'namespaceObject': cel.to_cel(namespace),
        'authorizer': None,
    }


def _denial(attrs, policy, binding, decision) -> ApiError:
    pname = policy['metadata']['name']
    if binding is not None:
        text = f"ValidatingAdmissionPolicy '{pname}' with binding '{binding['metadata']['name']}' denied request: {decision.message}"
    else:
        text = f"ValidatingAdmissionPolicy '{pname}' denied request: {decision.message}"
    rtype = attrs.rtype
    name = attrs.name or ((attrs.obj or {}).get('metadata') or {}).get('generateName') or ''
    message = f'{rtype.qualified} "{name}" is forbidden: {text}' if name else f'{rtype.qualified} is forbidden: {text}'
    details = {}
    if name:
        details['name'] = name
    if rtype.group:
        details['group'] = rtype.group
    details['kind'] = rtype.plural
    details['causes'] = [{'message': text}]
    reason = decision.reason or 'Invalid'
    return ApiError(REASON_CODES.get(reason, 422), reason, message, details)
