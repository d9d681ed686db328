"""Everest's settings ConfigMap ``everest-system/everest-settings`` and its ``oidc.config`` key.

Everest (``pkg/common/settings.go``) decodes ``oidc.config`` with yaml.v3 into ``{issuerUrl, clientId, scopes}``
over the defaults ``scopes: [openid, profile, email]``; unknown keys are ignored, a scalar of any type becomes
its text in the string fields, a duplicate key or a wrong shape is an error. A missing ConfigMap or key, or an
empty value, means "OIDC off" (``GET /v1/settings`` then shows empty strings and the default scopes).

``chart_configmap()`` is the ConfigMap the Helm chart installs when ``server.oidc`` is set (``toYaml`` of the
values: keys sorted, list items not indented, kept on uninstall by ``helm.sh/resource-policy: keep``).
"""

from __future__ import annotations

import yaml

from .kube import Kube, path as kpath

SYSTEM_NS = 'everest-system'
NAME = 'everest-settings'
KEY = 'oidc.config'
CONFIGMAP = kpath('v1', 'configmaps', SYSTEM_NS, NAME)
DEFAULT_SCOPES = ('openid', 'profile', 'email')
NULL_TAG = 'tag:yaml.org,2002:null'


class SettingsError(Exception):
    """``oidc.config`` does not decode (yaml.v3 would fail too)."""


def _text(node, field: str):
    if not isinstance(node, yaml.ScalarNode):
        raise SettingsError(f'yaml: cannot unmarshal a {node.id} into {field} (string)')
    return '' if node.tag == NULL_TAG else node.value


def _scopes(node):
    if isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG:
        return None
    if not isinstance(node, yaml.SequenceNode):
        raise SettingsError('yaml: cannot unmarshal into scopes ([]string)')
    return [_text(item, 'scopes[]') for item in node.value]


def parse_oidc_config(raw: str) -> dict:
    """``{'issuerUrl', 'clientId', 'scopes'}`` from the YAML text (scopes None = an explicit null)."""
    out = {'issuerUrl': '', 'clientId': '', 'scopes': list(DEFAULT_SCOPES)}
    try:
        root = next(iter(yaml.compose_all(raw)), None)
    except yaml.YAMLError as exc:
        raise SettingsError(f'yaml: {exc}') from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == NULL_TAG):
        return out
    if not isinstance(root, yaml.MappingNode):
        raise SettingsError('yaml: cannot unmarshal into common.OIDCConfig')
    seen = set()
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key in seen:
            raise SettingsError(f'yaml: mapping key "{key}" already defined')
        seen.add(key)
        if key in ('issuerUrl', 'clientId'):
            out[key] = _text(value_node, key)
        elif key == 'scopes':
            out['scopes'] = _scopes(value_node)
    return out


def raw_config(configmap: dict | None) -> str:
    return ((configmap or {}).get('data') or {}).get(KEY) or ''


def read(kube: Kube) -> dict:
    """The decoded settings as Everest reads them; KubeError (other than 404) and SettingsError propagate."""
    return parse_oidc_config(raw_config(kube.get_or_none(CONFIGMAP)))


def view(settings: dict) -> dict:
    """The ``GET /v1/settings`` body (JSON ``issuerURL``, YAML ``issuerUrl``)."""
    return {'oidcConfig': {'clientId': settings['clientId'], 'issuerURL': settings['issuerUrl'], 'scopes': settings['scopes']}}


def chart_configmap(issuer_url: str, client_id: str, scopes) -> dict:
    lines = [f'clientId: {client_id}', f'issuerUrl: {issuer_url}', 'scopes:'] + [f'- {scope}' for scope in scopes]
    return {
        'apiVersion': 'v1',
        'kind': 'ConfigMap',
        'metadata': {'name': NAME, 'namespace': SYSTEM_NS, 'annotations': {'helm.sh/resource-policy': 'keep'}},
        'data': {KEY: '\n'.join(lines) + '\n'},
    }
