"""LIST: label selectors, field selectors, all-namespace lists, pagination, delete collection."""

import pytest


@pytest.fixture
def labelled(raw, make_ns):
    make_ns('ns-a')
    make_ns('ns-b')
    objs = {
        ('ns-a', 'a1'): {'env': 'prod', 'tier': 'db'},
        ('ns-a', 'a2'): {'env': 'dev'},
        ('ns-a', 'a3'): {},
        ('ns-b', 'b1'): {'env': 'prod', 'team': 'x'},
        ('ns-b', 'b2'): {'env': 'qa', 'tier': 'web'},
    }
    for (nsn, name), labels in objs.items():
        body = {'metadata': {'name': name, 'labels': labels}}
        assert raw('POST', f'/api/v1/namespaces/{nsn}/configmaps', body)[0] == 201
    return raw


def names(raw, path):
    status, body = raw('GET', path)
    assert status == 200, body
    return sorted(i['metadata']['name'] for i in body['items'])


@pytest.mark.parametrize(
    'selector, expected',
    [
        ('env=prod', ['a1', 'b1']),
        ('env==prod', ['a1', 'b1']),
        ('env!=prod', ['a2', 'a3', 'b2']),
        ('env in (dev,qa)', ['a2', 'b2']),
        ('env notin (dev,qa)', ['a1', 'a3', 'b1']),
        ('tier', ['a1', 'b2']),
        ('!tier', ['a2', 'a3', 'b1']),
        ('env=prod,tier', ['a1']),
        ('env in (prod),!team', ['a1']),
    ],
)
def test_label_selectors(labelled, selector, expected):
    from urllib.parse import quote  # pylint: disable=import-outside-toplevel

    found = names(labelled, f'/api/v1/configmaps?labelSelector={quote(selector)}')
    assert [n for n in found if n[0] in 'ab' and n[1].isdigit()] == expected


def test_bad_label_selector_400(raw):
    status, body = raw('GET', '/api/v1/configmaps?labelSelector=a%20b%20c')
    assert status == 400
    assert body['reason'] == 'BadRequest'


def test_field_selectors(labelled):
    assert names(labelled, '/api/v1/configmaps?fieldSelector=metadata.name%3Da2') == ['a2']
    assert names(labelled, '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dns-b') == ['b1', 'b2']
    assert names(labelled, '/api/v1/namespaces/ns-a/configmaps?fieldSelector=metadata.name!%3Da1') == ['a2', 'a3']
    assert names(labelled, '/api/v1/namespaces?fieldSelector=metadata.name%3Dns-a') == ['ns-a']
    status, body = labelled('GET', '/api/v1/configmaps?fieldSelector=data.x%3D1')
    assert status == 400
    assert body['message'] == 'field label not supported: data.x'


def test_all_namespace_list_shape(labelled):
    status, body = labelled('GET', '/api/v1/configmaps')
    assert body['kind'] == 'ConfigMapList' and body['apiVersion'] == 'v1'
    keys = [(i['metadata']['namespace'], i['metadata']['name']) for i in body['items']]
    assert keys == sorted(keys)
    assert ('everest-system', 'everest-rbac') in keys
    assert 'kind' not in body['items'][0], 'items of built-in lists carry no kind (as the real server)'
    _st, dbcs = labelled('GET', '/apis/everest.percona.com/v1alpha1/databaseclusters')
    assert dbcs['kind'] == 'DatabaseClusterList' and dbcs['items'] == []


def test_pagination(labelled):
    seen, token = [], None
    while True:
        path = '/api/v1/namespaces/ns-a/configmaps?limit=2' + (f'&continue={token}' if token else '')
        _st, body = labelled('GET', path)
        seen += [i['metadata']['name'] for i in body['items']]
        token = body['metadata'].get('continue')
        if not token:
            break
        assert body['metadata']['remainingItemCount'] >= 1
    assert seen == ['a1', 'a2', 'a3']


def test_delete_collection(labelled):
    status, body = labelled('DELETE', '/api/v1/namespaces/ns-a/configmaps?labelSelector=env')
    assert status == 200
    assert sorted(i['metadata']['name'] for i in body['items']) == ['a1', 'a2']
    assert names(labelled, '/api/v1/namespaces/ns-a/configmaps') == ['a3']


def test_watch_is_refused(raw, clean_sandbox):
    status, body = raw('GET', '/api/v1/namespaces?watch=true')
    assert status == 405
    assert body['reason'] == 'MethodNotAllowed' and body['kind'] == 'Status' and body['code'] == 405
    assert body['message'] == 'watch is not supported by the sandbox Kubernetes API emulator; use get/list without --watch'
    assert raw('GET', '/api/v1/watch/namespaces')[0] == 405
    assert raw('GET', '/apis/everest.percona.com/v1alpha1/namespaces/default/databaseclusters?watch=1')[0] == 405
    # the same text as a standard Warning header, which kubectl prints (it ignores the Status body of a failed watch)
    import http.client  # pylint: disable=import-outside-toplevel
    from urllib.parse import urlsplit  # pylint: disable=import-outside-toplevel

    parts = urlsplit(clean_sandbox.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request('GET', '/api/v1/namespaces/default/configmaps?watch=true', headers={'Authorization': f'Bearer {clean_sandbox.token}'})
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    assert resp.status == 405
    assert resp.getheader('Warning') == ('299 - "watch is not supported by the sandbox Kubernetes API emulator; use get/list without --watch"')


def test_dynamic_client_works_without_watch_verb(api):
    from kubernetes import dynamic  # pylint: disable=import-outside-toplevel
    from kubernetes.client import exceptions  # pylint: disable=import-outside-toplevel

    client = dynamic.DynamicClient(api)
    namespaces = client.resources.get(api_version='v1', kind='Namespace')
    assert 'watch' not in namespaces.verbs
    assert 'everest-system' in [n.metadata.name for n in namespaces.get().items]
    dbc = client.resources.get(api_version='everest.percona.com/v1alpha1', kind='DatabaseCluster')
    assert dbc.get(namespace='default').items == []
    try:
        next(iter(client.watch(namespaces, timeout=5)))
    except exceptions.ApiException as exc:
        assert exc.status == 405 and 'watch is not supported' in exc.body
    else:  # pragma: no cover
        raise AssertionError('a watch was served')


def test_typed_client_list_with_selector(labelled, core):
    got = core.list_config_map_for_all_namespaces(label_selector='env=prod').items
    assert sorted(i.metadata.name for i in got) == ['a1', 'b1']
    got = core.list_namespaced_config_map('ns-b', label_selector='env in (qa)').items
    assert [i.metadata.name for i in got] == ['b2']
