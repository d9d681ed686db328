# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""everest_oidc's engine: Everest's OIDC settings (reference §9.5, §9.6).

* ``wanted``: the settings asked for (the ``groups`` scope added when required), checked before anything is read;
* ``read_settings`` / ``parse_config``: ``oidc.config`` of ``everest-system/everest-settings`` as Everest reads it
  (YAML, ``issuerUrl``, ``clientId``, ``scopes``); ``same``: compared as parsed values, scopes as a set (everestctl
  rewrites and restarts even when nothing differs, so the comparison is ours);
* ``check_discovery``: the issuer's discovery document from this host, as the Everest server needs it at start-up
  (200, JSON, a non-empty ``jwks_uri``), so an unreachable issuer is refused before the server is restarted into a crash;
* ``render``: one fixed YAML layout for both sides of the diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl

try:
    from http.client import HTTPException
    from urllib.parse import urljoin, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPException = Exception
    urljoin = urlsplit = None

try:
    import yaml
except ImportError:  # pragma: no cover - EverestModule reports the missing library
    yaml = None

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _http
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ConnectionConfigError, EverestError

SETTINGS_PATH = _k8s.path('v1', 'configmaps', _constants.SYSTEM_NAMESPACE, _constants.SETTINGS_CONFIGMAP)
WHERE = '%s/%s %s' % (_constants.SYSTEM_NAMESPACE, _constants.SETTINGS_CONFIGMAP, _constants.OIDC_SETTINGS_KEY)
MAX_REDIRECTS = 10  # Go's http.Client, which Everest and everestctl use
RESTART_WARNING = (
    "applying OIDC settings restarts the Everest server (Deployment %s/%s, everestctl waits until it is ready again): its "
    "API and UI are unavailable meanwhile, and the server reads the issuer's discovery document again as it starts"
) % (_constants.SYSTEM_NAMESPACE, _constants.SERVER_DEPLOYMENTS[0])


class IssuerUnreachable(EverestError):
    """The issuer's discovery document cannot be read as Everest needs it; nothing was changed."""

    def __init__(self, detail, **details):
        super(IssuerUnreachable, self).__init__(
            "OIDC issuer: %s. Nothing was changed: the Everest server reads this document every time it starts and stops "
            "when it cannot (its pod would crash-loop), so fix the issuer URL or its reachability (from this host and from "
            "the Everest server's pod) first" % detail,
            **details,
        )


def _plain(value, what):
    if not isinstance(value, str) or not value or any(char.isspace() for char in value):
        raise EverestError('%s %r must be a non-empty value without white space' % (what, value))
    return value


def wanted(issuer_url, client_id, scopes, require_groups_scope):
    """{issuerUrl, clientId, scopes} asked for; raises EverestError (before anything is read) for a value everestctl would
    refuse, prompt for, or that could never work."""
    _plain(issuer_url, 'issuer_url')
    parts = urlsplit(issuer_url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise EverestError(
            "issuer_url %r must be an http(s) URL with a host (Everest's server fetches <issuer_url>%s from it)" % (issuer_url, _constants.OIDC_DISCOVERY_PATH)
        )
    _plain(client_id, 'client_id')
    out = []
    for scope in scopes:
        _plain(scope, 'scope')
        if ',' in scope:
            raise EverestError('scope %r contains a comma; give each scope as its own list item' % scope)
        if scope not in out:
            out.append(scope)
    if 'openid' not in out:
        raise EverestError("scopes %s must contain 'openid' (everestctl refuses them otherwise)" % ', '.join(out))
    if require_groups_scope and _constants.OIDC_GROUPS_SCOPE not in out:
        out.append(_constants.OIDC_GROUPS_SCOPE)
    return {'issuerUrl': issuer_url, 'clientId': client_id, 'scopes': out}


def parse_config(raw):
    """The parsed ``oidc.config`` ({issuerUrl, clientId, scopes}); None when empty (OIDC off); ValueError when Everest
    could not read it."""
    if raw is None or raw == '':
        return None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError('not YAML: %s' % str(exc).replace('\n', ' '))
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError('not a YAML mapping')
    scopes = data.get('scopes')
    return {
        'issuerUrl': data.get('issuerUrl') if isinstance(data.get('issuerUrl'), str) else '',
        'clientId': data.get('clientId') if isinstance(data.get('clientId'), str) else '',
        'scopes': [str(s) for s in scopes] if isinstance(scopes, list) else [],
    }


def read_settings(client):
    """(ConfigMap or None, raw oidc.config or None)."""
    obj = client.get_or_none(SETTINGS_PATH)
    raw = ((obj or {}).get('data') or {}).get(_constants.OIDC_SETTINGS_KEY)
    return obj, raw


def same(current, desired):
    """Whether Everest would behave the same: equal issuer and client id, the same set of scopes (their order only changes
    the order the UI requests them in)."""
    return (
        current is not None
        and current['issuerUrl'] == desired['issuerUrl']
        and current['clientId'] == desired['clientId']
        and set(current['scopes']) == set(desired['scopes'])
    )


def render(config):
    """The settings as YAML text in one layout (for the diff): '' when OIDC is off."""
    if config is None:
        return ''
    scopes = ''.join('  - %s\n' % s for s in config['scopes'])
    return 'issuerUrl: %s\nclientId: %s\nscopes:\n%s' % (config['issuerUrl'], config['clientId'], scopes)


def view(config):
    """The settings as the module returns them (snake_case), or None."""
    if config is None:
        return None
    return {'issuer_url': config['issuerUrl'], 'client_id': config['clientId'], 'scopes': list(config['scopes'])}


def discovery_url(issuer_url):
    """Go's ``url.JoinPath(issuer, "/.well-known/openid-configuration")`` for the usual issuer URLs."""
    parts = urlsplit(issuer_url)
    path = parts.path.rstrip('/') + _constants.OIDC_DISCOVERY_PATH
    return '%s://%s%s%s' % (parts.scheme, parts.netloc, path, ('?' + parts.query) if parts.query else '')


def _get(url, timeout):
    """(status, Location header, body) of one GET; raises IssuerUnreachable with the cause."""
    transport = _http.Transport(url, what='OIDC issuer', timeout=timeout)
    parts = urlsplit(url)
    target = (parts.path or '/') + (('?' + parts.query) if parts.query else '')
    transport.prefix = ''  # the whole path is sent as given
    try:
        status, _reason, headers, body = transport.send('GET', target, headers={'Accept': 'application/json'})
    except ssl.SSLError as exc:
        raise IssuerUnreachable(
            "GET %s: TLS failed (%s); the controller and the Everest server must both trust the issuer's certificate "
            '(Everest has no option for a CA bundle)' % (url, getattr(exc, 'reason', None) or exc),
            url=url,
        )
    except (socket.timeout, socket.error, OSError, IOError, HTTPException) as exc:
        raise IssuerUnreachable('GET %s: %s' % (url, exc), url=url)
    finally:
        transport.close()
    return status, headers.get('location'), body


def check_discovery(issuer_url, timeout=10):
    """The issuer's discovery document as Everest's server reads it at start-up (reference §9.6): GET
    <issuer>/.well-known/openid-configuration (redirects followed, as Go's client does), 200, a JSON object with a
    non-empty ``jwks_uri``. Returns {url, issuer, jwks_uri}; raises IssuerUnreachable saying what failed."""
    url = discovery_url(issuer_url)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            status, location, body = _get(url, timeout)
            if status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            break
        else:
            raise IssuerUnreachable('GET %s: more than %d redirects' % (url, MAX_REDIRECTS), url=url)
    except ConnectionConfigError as exc:
        raise IssuerUnreachable('%s' % exc.msg, url=url)
    if status != 200:
        text = body[:200].decode('utf-8', 'replace').strip() if body else ''
        raise IssuerUnreachable('GET %s answered %d%s' % (url, status, (': %s' % text) if text else ''), url=url, status=status)
    try:
        doc = json.loads(body.decode('utf-8'))
    except ValueError:
        raise IssuerUnreachable('GET %s answered 200 but not with JSON (not an OIDC discovery document)' % url, url=url)
    if not isinstance(doc, dict) or not isinstance(doc.get('jwks_uri'), str) or not doc.get('jwks_uri'):
        raise IssuerUnreachable('GET %s answered a document without jwks_uri; Everest cannot verify tokens without it' % url, url=url)
    return {'url': url, 'issuer': doc.get('issuer') if isinstance(doc.get('issuer'), str) else None, 'jwks_uri': doc['jwks_uri']}
