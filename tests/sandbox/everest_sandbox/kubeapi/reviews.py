"""The review APIs: create-only kinds that are answered, never stored.

Upstream: ``pkg/registry/authorization/{selfsubjectaccessreview,subjectaccessreview,selfsubjectrulesreview}/rest.go``,
``pkg/apis/authorization/validation/validation.go``, ``pkg/registry/authentication/selfsubjectreview/rest.go``.

* SelfSubjectAccessReview (authorization.k8s.io/v1): ``spec.resourceAttributes`` {namespace, verb, group, version,
  resource, subresource, name} or ``spec.nonResourceAttributes`` {path, verb} -- exactly one -- checked for the caller;
  201 with ``status.allowed`` and, when there is one, ``status.reason`` (``RBAC: allowed by ...`` or the resolution
  errors). ``denied``/``evaluationError`` stay unset: RBAC never denies, it only has no opinion.
* SubjectAccessReview: the same for ``spec.user``/``groups``/``uid``/``extra`` (one of user or groups required).
* SelfSubjectRulesReview: the caller's rules in ``spec.namespace`` (required): ``status.resourceRules``,
  ``nonResourceRules``, ``incomplete``, ``evaluationError`` (``system:masters`` gets ``*`` first).
* SelfSubjectReview (authentication.k8s.io/v1): ``status.userInfo`` of the caller (``kubectl auth whoami``).
"""

from __future__ import annotations

import json
import time

from . import errors as E
from .rbac import MASTERS
from .rbac_validation import GoSyntaxError
from .requestinfo import Attributes
from .tokens import rfc3339

AUTHZ = 'authorization.k8s.io'
RESOURCE_FIELDS = (
    ('namespace', 'Namespace'),
    ('verb', 'Verb'),
    ('group', 'Group'),
    ('version', 'Version'),
    ('resource', 'Resource'),
    ('subresource', 'Subresource'),
    ('name', 'Name'),
)
NON_RESOURCE_FIELDS = (('path', 'Path'), ('verb', 'Verb'))


def _body(body, kind: str, group: str) -> dict:
    if not isinstance(body, dict):
        raise E.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal into Go value of type struct')
    if body.get('kind') not in (None, '', kind) or body.get('apiVersion') not in (None, '', f'{group}/v1'):
        raise E.bad_request(f'the kind in the data ({body.get("kind")}) does not match the expected kind ({kind})')
    return body


def _strings(value, fields) -> dict:
    value = value if isinstance(value, dict) else {}
    return {key: str(value[key]) for key, _label in fields if value.get(key)}


def _go_struct(name: str, value: dict | None, fields) -> str:
    if value is None:
        return '"null"'
    return f'authorization.{name}{{' + ', '.join(f'{label}:{json.dumps(value.get(key, ""))}' for key, label in fields) + '}'


def _attribute_errors(spec: dict) -> list:
    resource, non_resource = spec.get('resourceAttributes'), spec.get('nonResourceAttributes')
    shown = _go_struct('NonResourceAttributes', non_resource, NON_RESOURCE_FIELDS)
    if resource is not None and non_resource is not None:
        return [GoSyntaxError('spec.nonResourceAttributes', shown, 'cannot be specified in combination with resourceAttributes')]
    if resource is None and non_resource is None:
        return [GoSyntaxError('spec.resourceAttributes', shown, 'exactly one of nonResourceAttributes or resourceAttributes must be specified')]
    return []


def _metadata_errors(body: dict) -> list:
    meta = body.get('metadata') if isinstance(body.get('metadata'), dict) else {}
    if any(value not in (None, '', {}, []) for value in meta.values()):
        return [GoSyntaxError('metadata', 'v1.ObjectMeta{...}', 'must be empty')]
    return []


def _attributes(user: dict, spec: dict) -> Attributes:
    if spec.get('resourceAttributes') is not None:
        res = spec['resourceAttributes']
        return Attributes(
            user,
            res.get('verb', ''),
            True,
            '',
            res.get('group', ''),
            res.get('version') or '*',
            res.get('resource', ''),
            res.get('subresource', ''),
            res.get('namespace', ''),
            res.get('name', ''),
        )
    non = spec['nonResourceAttributes']
    return Attributes(user, non.get('verb', ''), False, non.get('path', ''))


def _status(authorizer, attrs) -> dict:
    allowed, reason = authorizer.authorize(attrs)
    status = {'allowed': allowed}
    if reason:
        status['reason'] = reason
    return status


def _spec_out(spec: dict) -> dict:
    out = {}
    if spec.get('resourceAttributes') is not None:
        out['resourceAttributes'] = _strings(spec['resourceAttributes'], RESOURCE_FIELDS)
    if spec.get('nonResourceAttributes') is not None:
        out['nonResourceAttributes'] = _strings(spec['nonResourceAttributes'], NON_RESOURCE_FIELDS)
    return out


def self_subject_access_review(authorizer, user: dict, body) -> dict:
    body = _body(body, 'SelfSubjectAccessReview', AUTHZ)
    spec = body.get('spec') if isinstance(body.get('spec'), dict) else {}
    errs = _attribute_errors(spec) + _metadata_errors(body)
    if errs:
        raise E.invalid('SelfSubjectAccessReview', AUTHZ, '', errs)
    spec = _spec_out(spec)
    return {
        'kind': 'SelfSubjectAccessReview',
        'apiVersion': f'{AUTHZ}/v1',
        'metadata': {'creationTimestamp': None},
        'spec': spec,
        'status': _status(authorizer, _attributes(user, spec)),
    }


def subject_access_review(authorizer, _user: dict, body) -> dict:
    body = _body(body, 'SubjectAccessReview', AUTHZ)
    spec = body.get('spec') if isinstance(body.get('spec'), dict) else {}
    errs = _attribute_errors(spec)
    if not spec.get('user') and not spec.get('groups'):
        errs.append(E.FieldError('Invalid', 'spec.user', spec.get('user') or '', 'at least one of user or group must be specified'))
    errs += _metadata_errors(body)
    if errs:
        raise E.invalid('SubjectAccessReview', AUTHZ, '', errs)
    subject = {
        'username': str(spec.get('user') or ''),
        'uid': str(spec.get('uid') or ''),
        'groups': [str(g) for g in spec.get('groups') or ()],
        'extra': dict(spec.get('extra') or {}),
    }
    out = _spec_out(spec)
    out.update({k: spec[k] for k in ('user', 'groups', 'extra', 'uid') if spec.get(k)})
    return {
        'kind': 'SubjectAccessReview',
        'apiVersion': f'{AUTHZ}/v1',
        'metadata': {'creationTimestamp': None},
        'spec': out,
        'status': _status(authorizer, _attributes(subject, out)),
    }


def _resource_rule(rule: dict) -> dict:
    out = {'verbs': list(rule.get('verbs') or ())}
    out.update({k: list(rule[k]) for k in ('apiGroups', 'resources', 'resourceNames') if rule.get(k)})
    return out


def self_subject_rules_review(authorizer, user: dict, body) -> dict:
    body = _body(body, 'SelfSubjectRulesReview', AUTHZ)
    spec = body.get('spec') if isinstance(body.get('spec'), dict) else {}
    namespace = spec.get('namespace') or ''
    if not namespace:
        raise E.bad_request('no namespace on request')
    resource_rules, non_resource_rules = [], []
    if MASTERS in user['groups']:
        resource_rules.append({'verbs': ['*'], 'apiGroups': ['*'], 'resources': ['*']})
        non_resource_rules.append({'verbs': ['*'], 'nonResourceURLs': ['*']})
    rules, errs = authorizer.resolver.rules_for(user, namespace)
    resource_rules += [_resource_rule(r) for r in rules if r.get('resources')]
    non_resource_rules += [{'verbs': list(r.get('verbs') or ()), 'nonResourceURLs': list(r['nonResourceURLs'])} for r in rules if r.get('nonResourceURLs')]
    status = {'resourceRules': resource_rules, 'nonResourceRules': non_resource_rules, 'incomplete': False}
    if errs:
        status['evaluationError'] = E.aggregate(errs)
    return {'kind': 'SelfSubjectRulesReview', 'apiVersion': f'{AUTHZ}/v1', 'metadata': {'creationTimestamp': None}, 'spec': {}, 'status': status}


def self_subject_review(_authorizer, user: dict, body) -> dict:
    _body(body, 'SelfSubjectReview', 'authentication.k8s.io')
    info = {k: user[k] for k in ('username', 'uid', 'groups', 'extra') if user.get(k)}
    return {
        'kind': 'SelfSubjectReview',
        'apiVersion': 'authentication.k8s.io/v1',
        'metadata': {'creationTimestamp': rfc3339(time.time())},
        'status': {'userInfo': info},
    }


HANDLERS = {
    (AUTHZ, 'selfsubjectaccessreviews'): self_subject_access_review,
    (AUTHZ, 'subjectaccessreviews'): subject_access_review,
    (AUTHZ, 'selfsubjectrulesreviews'): self_subject_rules_review,
    ('authentication.k8s.io', 'selfsubjectreviews'): self_subject_review,
}
