"""ValidatingAdmissionPolicy / ValidatingAdmissionPolicyBinding objects (admissionregistration.k8s.io/v1):
defaulting and create/update validation as kube-apiserver does it (pkg/apis/admissionregistration/v1 defaults,
pkg/apis/admissionregistration/validation/validation.go).

Defaults: ``spec.failurePolicy: Fail``; every MatchResources (the policy's ``matchConstraints``, the binding's
``matchResources``) gets ``matchPolicy: Equivalent``, ``namespaceSelector: {}``, ``objectSelector: {}``; every
rule's ``scope`` becomes ``*``. ``paramRef.parameterNotFoundAction`` has no default in v1 (it is required).

Every CEL expression is compiled here (``cel.Program``), so a bad expression is a 422 on the policy with
``compilation failed: ERROR: <input>:...``. Binding MatchResources errors are reported under the path
``spec.matchResouces`` (sic), as upstream does.
"""

from __future__ import annotations

import re

from . import cel
from .errors import FieldError

POLICIES = ('admissionregistration.k8s.io', 'validatingadmissionpolicies')
BINDINGS = ('admissionregistration.k8s.io', 'validatingadmissionpolicybindings')
KEYS = (POLICIES, BINDINGS)
OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE']
SCOPES = ['*', 'Cluster', 'Namespaced']
REASONS = ['Forbidden', 'Invalid', 'RequestEntityTooLarge']
ACTIONS = ['Audit', 'Deny', 'Warn']
CEL_IDENTIFIER = re.compile(r'^[_a-zA-Z][_a-zA-Z0-9]*$')
QUALIFIED_NAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')


class GoInvalid(FieldError):
    """An Invalid error whose value Go prints with ``%#v`` (``[]string{"a", "b"}``)."""

    def __init__(self, field: str, go_type: str, values, detail: str):
        super().__init__('Invalid', field, values, detail)
        self.go_type = go_type

    def body(self) -> str:
        items = ', '.join(f'"{v}"' for v in self.value)
        return f'Invalid value: []{self.go_type}{{{items}}}: {self.detail}'


def prepare(key: tuple, obj: dict, old: dict | None) -> list:
    """Default ``obj`` in place and return its field errors (store hook for both kinds)."""
    del old  # the same rules apply on create and update
    spec = obj.get('spec')
    if not isinstance(spec, dict):
        spec = obj['spec'] = {}
    if key == POLICIES:
        spec.setdefault('failurePolicy', 'Fail')
        _default_match(spec.get('matchConstraints'))
        return validate_policy(obj)
    _default_match(spec.get('matchResources'))
    return validate_binding(spec)


def _default_match(match):
    if not isinstance(match, dict):
        return
    match.setdefault('matchPolicy', 'Equivalent')
    match.setdefault('namespaceSelector', {})
    match.setdefault('objectSelector', {})
    for field in ('resourceRules', 'excludeResourceRules'):
        for rule in match.get(field) or []:
            if isinstance(rule, dict):
                rule.setdefault('scope', '*')


# ---------------------------------------------------------------------------------------------- policy


def validate_policy(obj: dict) -> list:
    spec = obj['spec']
    errs = []
    if spec.get('failurePolicy') not in ('Fail', 'Ignore'):
        errs.append(FieldError('NotSupported', 'spec.failurePolicy', spec.get('failurePolicy'), supported=['Fail', 'Ignore']))
    has_params = spec.get('paramKind') is not None
    if has_params:
        errs += _param_kind(spec['paramKind'])
    match = spec.get('matchConstraints')
    if match is None:
        errs.append(FieldError('Required', 'spec.matchConstraints'))
    else:
        errs += validate_match(match, 'spec.matchConstraints')
        if not match.get('resourceRules'):
            errs.append(FieldError('Required', 'spec.matchConstraints.resourceRules'))
    errs += _match_conditions(spec.get('matchConditions') or [], has_params)
    declared: list = []
    for idx, variable in enumerate(spec.get('variables') or []):
        errs += _variable(variable, has_params, tuple(declared), f'spec.variables[{idx}]')
        declared.append(variable.get('name'))
    validations, audits = spec.get('validations') or [], spec.get('auditAnnotations') or []
    if not validations and not audits:
        text = 'validations or auditAnnotations must contain at least one item'
        errs += [FieldError('Required', 'spec.validations', detail=text), FieldError('Required', 'spec.auditAnnotations', detail=text)]
        return errs
    for idx, validation in enumerate(validations):
        errs += _validation(validation, has_params, tuple(declared), f'spec.validations[{idx}]')
    errs += _audit_annotations(obj, audits, has_params, tuple(declared))
    return errs


def _compile(path: str, source, result: str, has_params: bool, declared=(), authorizer: bool = True) -> list:
    try:
        cel.Program(source, result=result, has_params=has_params, has_authorizer=authorizer, variables=declared)
    except cel.CompileError as exc:
        return [FieldError('Invalid', path, source, exc.detail)]
    return []


def _param_kind(kind) -> list:
    errs = []
    if not isinstance(kind, dict) or not kind.get('apiVersion'):
        errs.append(FieldError('Required', 'spec.paramKind.apiVersion'))
    elif kind['apiVersion'].count('/') > 1:
        errs.append(FieldError('Invalid', 'spec.paramKind.apiVersion', kind['apiVersion'], f'unexpected GroupVersion string: {kind["apiVersion"]}'))
    if not isinstance(kind, dict) or not kind.get('kind'):
        errs.append(FieldError('Required', 'spec.paramKind.kind'))
    return errs


def _match_conditions(conditions, has_params) -> list:
    errs = []
    if len(conditions) > 64:
        errs.append(FieldError('TooMany', 'spec.matchConditions', len(conditions), limit=64))
    names = set()
    for idx, cond in enumerate(conditions):
        path = f'spec.matchConditions[{idx}]'
        expression = (cond.get('expression') or '').strip()
        if not expression:
            errs.append(FieldError('Required', f'{path}.expression'))
        else:
            errs += _compile(f'{path}.expression', expression, 'bool', has_params)
        name = cond.get('name') or ''
        if not name:
            errs.append(FieldError('Required', f'{path}.name'))
        elif name in names:
            errs.append(FieldError('Duplicate', f'{path}.name', name))
        names.add(name)
    return errs


def _variable(variable, has_params, declared, path) -> list:
    errs = []
    name = (variable.get('name') or '').strip()
    if not name:
        errs.append(FieldError('Required', f'{path}.name', detail='name is not specified'))
    elif not CEL_IDENTIFIER.match(variable['name']):
        errs.append(FieldError('Invalid', f'{path}.name', variable['name'], 'name is not a valid CEL identifier'))
    if not (variable.get('expression') or '').strip():
        errs.append(FieldError('Required', f'{path}.expression', detail='expression is not specified'))
    else:
        errs += _compile(f'{path}.expression', variable['expression'], 'any', has_params, declared)
    return errs


def _validation(validation, has_params, declared, path) -> list:
    errs = []
    expression = validation.get('expression') or ''
    if not expression.strip():
        errs.append(FieldError('Required', f'{path}.expression', detail='expression is not specified'))
    else:
        errs += _compile(f'{path}.expression', expression, 'bool', has_params, declared)
    message_expr = validation.get('messageExpression') or ''
    if message_expr and not message_expr.strip():
        errs.append(FieldError('Invalid', f'{path}.messageExpression', message_expr, 'must be non-empty if specified'))
    elif message_expr.strip():
        errs += _compile(f'{path}.messageExpression', message_expr, 'string', has_params, declared, authorizer=False)
    message = validation.get('message') or ''
    if message and not message.strip():
        errs.append(FieldError('Invalid', f'{path}.message', message, 'message must be non-empty if specified'))
    elif re.search(r'[\n\r]', message.strip()):
        errs.append(FieldError('Invalid', f'{path}.message', message, 'message must not contain line breaks'))
    if validation.get('reason') is not None and validation['reason'] not in REASONS:
        errs.append(FieldError('NotSupported', f'{path}.reason', validation['reason'], supported=REASONS))
    return errs


def _audit_annotations(obj, audits, has_params, declared) -> list:
    errs = []
    if len(audits) > 20:
        errs.append(FieldError('Invalid', 'spec.auditAnnotations', audits, 'must not have more than 20 auditAnnotations'))
    keys = set()
    for idx, audit in enumerate(audits):
        path = f'spec.auditAnnotations[{idx}]'
        key = audit.get('key') or ''
        full = f'{obj["metadata"].get("name", "")}/{key}'
        part = full.rsplit('/', maxsplit=1)[-1]
        if len(part) > 63 or not QUALIFIED_NAME.match(part):
            errs.append(
                FieldError(
                    'Invalid',
                    f'{path}.key',
                    full,
                    "name part must consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                    "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                )
            )
        value = (audit.get('valueExpression') or '').strip()
        if not value:
            errs.append(FieldError('Required', f'{path}.valueExpression', detail='valueExpression is not specified'))
        elif len(value) > 5 * 1024:
            errs.append(FieldError('Required', f'{path}.valueExpression', detail='must not exceed 5120 bytes in length'))
        else:
            errs += _compile(f'{path}.valueExpression', audit['valueExpression'], 'audit', has_params, declared)
        if key in keys:
            errs.append(FieldError('Duplicate', f'{path}.key', key))
        keys.add(key)
    return errs


# ---------------------------------------------------------------------------------------------- match resources


def validate_match(match, path: str) -> list:
    if not isinstance(match, dict):
        return []
    errs = []
    if match.get('matchPolicy') not in ('Exact', 'Equivalent'):
        errs.append(FieldError('NotSupported', f'{path}.matchPolicy', match.get('matchPolicy'), supported=['Equivalent', 'Exact']))
    errs += _selector(match.get('namespaceSelector'), f'{path}.namespaceSelector')
    errs += _selector(match.get('objectSelector'), f'{path}.objectSelector')
    for field in ('resourceRules', 'excludeResourceRules'):
        for idx, rule in enumerate(match.get(field) or []):
            errs += _rule(rule, f'{path}.{field}[{idx}]')
    return errs


def _selector(selector, path) -> list:
    errs = []
    for idx, expr in enumerate((selector or {}).get('matchExpressions') or []):
        operator = expr.get('operator')
        if operator not in ('In', 'NotIn', 'Exists', 'DoesNotExist'):
            errs.append(FieldError('NotSupported', f'{path}.matchExpressions[{idx}].operator', operator, supported=['DoesNotExist', 'Exists', 'In', 'NotIn']))
        elif operator in ('In', 'NotIn') and not expr.get('values'):
            errs.append(FieldError('Required', f'{path}.matchExpressions[{idx}].values', detail='must be specified when `operator` is \'In\' or \'NotIn\''))
        elif operator in ('Exists', 'DoesNotExist') and expr.get('values'):
            errs.append(
                FieldError(
                    'Forbidden', f'{path}.matchExpressions[{idx}].values', detail='may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''
                )
            )
    return errs


def _rule(rule, path) -> list:
    errs = []
    operations = rule.get('operations') or []
    if not operations:
        errs.append(FieldError('Required', f'{path}.operations'))
    if len(operations) > 1 and '*' in operations:
        errs.append(GoInvalid(f'{path}.operations', 'admissionregistration.OperationType', operations, "if '*' is present, must not specify other operations"))
    for idx, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.append(FieldError('NotSupported', f'{path}.operations[{idx}]', operation, supported=OPERATIONS))
    for field, what in (('apiGroups', 'API groups'), ('apiVersions', 'API versions')):
        values = rule.get(field)
        if not values:
            errs.append(FieldError('Required', f'{path}.{field}'))
        elif len(values) > 1 and '*' in values:
            errs.append(GoInvalid(f'{path}.{field}', 'string', values, f"if '*' is present, must not specify other {what}"))
    resources = rule.get('resources') or []
    if not resources:
        errs.append(FieldError('Required', f'{path}.resources'))
    if len(resources) > 1 and '*/*' in resources:
        errs.append(GoInvalid(f'{path}.resources', 'string', resources, "if '*/*' is present, must not specify other resources"))
    if '*' in resources and any('/' not in r and r != '*' for r in resources):
        errs.append(GoInvalid(f'{path}.resources', 'string', resources, "if '*' is present, must not specify other resources without subresources"))
    if rule.get('scope') not in SCOPES:
        errs.append(FieldError('NotSupported', f'{path}.scope', rule.get('scope'), supported=SCOPES))
    return errs


# ---------------------------------------------------------------------------------------------- binding


def validate_binding(spec: dict) -> list:
    errs = []
    if not spec.get('policyName'):
        errs.append(FieldError('Required', 'spec.policyName'))
    errs += _param_ref(spec.get('paramRef'))
    errs += validate_match(spec.get('matchResources'), 'spec.matchResouces')
    errs += _actions(spec.get('validationActions') or [])
    return errs


def _param_ref(ref) -> list:
    if ref is None:
        return []
    errs = []
    if ref.get('name') and ref.get('selector') is not None:
        errs.append(FieldError('Forbidden', 'spec.paramRef.name', detail='name and selector are mutually exclusive'))
    if ref.get('selector') is not None:
        errs += _selector(ref['selector'], 'spec.paramRef.selector')
        if ref.get('name'):
            errs.append(FieldError('Forbidden', 'spec.paramRef.selector', detail='name and selector are mutually exclusive'))
    if not ref.get('name') and ref.get('selector') is None:
        errs.append(FieldError('Required', 'spec.paramRef', detail='one of name or selector must be specified'))
    action = ref.get('parameterNotFoundAction')
    if not action:
        errs.append(FieldError('Required', 'spec.paramRef.parameterNotFoundAction'))
    elif action not in ('Deny', 'Allow'):
        errs.append(FieldError('NotSupported', 'spec.paramRef.parameterNotFoundAction', action, supported=['Deny', 'Allow']))
    return errs


def _actions(actions) -> list:
    errs, seen = [], []
    for idx, action in enumerate(actions):
        if action not in ACTIONS:
            errs.append(FieldError('NotSupported', f'spec.validationActions[{idx}]', action, supported=ACTIONS))
        if action in seen:
            errs.append(FieldError('Duplicate', f'spec.validationActions[{idx}]', action))
        seen.append(action)
    if 'Deny' in seen and 'Warn' in seen:
        errs.append(
            GoInvalid(
                'spec.validationActions',
                'admissionregistration.ValidationAction',
                actions,
                'must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)',
            )
        )
    if not seen:
        errs.append(FieldError('Required', 'spec.validationActions', detail='at least one validation action is required'))
    return errs
