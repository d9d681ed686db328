"""Unit tests of the emulator's building blocks (no server)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from everest_sandbox.kubeapi.errors import ApiError, FieldError, go_value
from everest_sandbox.kubeapi.patch import PatchError, json_patch, merge_patch, strategic_merge
from everest_sandbox.kubeapi.schema import process_custom_resource, prune, validate
from everest_sandbox.kubeapi.selectors import labels_match, parse_field_selector, parse_label_selector
from everest_sandbox.kubeapi.quantity import QuantityError, parse as parse_quantity

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@pytest.mark.parametrize(
    'selector, labels, expected',
    [
        ('a=b', {'a': 'b'}, True),
        ('a=b', {'a': 'c'}, False),
        ('a!=b', {}, True),
        ('a!=b', {'a': 'b'}, False),
        ('a in (x, y)', {'a': 'y'}, True),
        ('a notin (x,y)', {}, True),
        ('a notin (x,y)', {'a': 'x'}, False),
        ('a', {'a': ''}, True),
        ('!a', {'a': ''}, False),
        ('a,b=c', {'a': '1', 'b': 'c'}, True),
        ('app.kubernetes.io/managed-by=everest', {'app.kubernetes.io/managed-by': 'everest'}, True),
        ('n>3', {'n': '4'}, True),
        ('n<3', {'n': '4'}, False),
        ('', {}, True),
    ],
)
def test_label_selector(selector, labels, expected):
    assert labels_match(parse_label_selector(selector), labels) is expected


@pytest.mark.parametrize('selector', ['a b', 'a=(', ',', 'a in x', '-a=b'])
def test_label_selector_errors(selector):
    with pytest.raises(ApiError) as err:
        parse_label_selector(selector)
    assert err.value.code == 400


def test_field_selector():
    assert parse_field_selector('metadata.name=a,metadata.namespace!=b', {'metadata.name', 'metadata.namespace'}) == [
        ('metadata.name', '=', 'a'),
        ('metadata.namespace', '!=', 'b'),
    ]
    with pytest.raises(ApiError):
        parse_field_selector('spec.x=1', {'metadata.name'})


def test_merge_patch_rfc7386_examples():
    assert merge_patch({'a': 'b'}, {'a': 'c'}) == {'a': 'c'}
    assert merge_patch({'a': 'b'}, {'b': 'c'}) == {'a': 'b', 'b': 'c'}
    assert merge_patch({'a': 'b'}, {'a': None}) == {}
    assert merge_patch({'a': [{'b': 'c'}]}, {'a': [1]}) == {'a': [1]}
    assert merge_patch({'e': None}, {'a': 1}) == {'e': None, 'a': 1}
    assert merge_patch([1, 2], {'a': 'b', 'c': None}) == {'a': 'b'}
    assert merge_patch({}, {'a': {'bb': {'ccc': None}}}) == {'a': {'bb': {}}}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(target=JSON, patch=JSON)
def test_merge_patch_is_idempotent(target, patch):
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


def test_json_patch_rfc6902():
    doc = {'foo': ['bar', 'baz'], 'q': {'x': 1}}
    out = json_patch(
        doc,
        [
            {'op': 'add', 'path': '/foo/1', 'value': 'qux'},
            {'op': 'move', 'from': '/q/x', 'path': '/m'},
            {'op': 'replace', 'path': '/foo/0', 'value': 'B'},
            {'op': 'test', 'path': '/m', 'value': 1},
            {'op': 'add', 'path': '/a~1b', 'value': 2},
        ],
    )
    assert out == {'foo': ['B', 'qux', 'baz'], 'q': {}, 'm': 1, 'a/b': 2}
    assert doc == {'foo': ['bar', 'baz'], 'q': {'x': 1}}, 'input untouched'
    with pytest.raises(PatchError, match='testing value /m failed'):
        json_patch(out, [{'op': 'test', 'path': '/m', 'value': 2}])
    with pytest.raises(PatchError):
        json_patch(out, [{'op': 'replace', 'path': '/nope', 'value': 1}])
    with pytest.raises(PatchError):
        json_patch(out, [{'op': 'add', 'path': '/foo/9', 'value': 1}])


def test_strategic_merge():
    cur = {
        'spec': {
            'containers': [{'name': 'a', 'image': '1', 'env': [{'name': 'X', 'value': '1'}]}, {'name': 'b', 'image': '1'}],
            'args': ['x', 'y'],
            'finalizers': ['f1'],
        }
    }
    patch = {
        'spec': {
            'containers': [{'name': 'a', 'image': '2', 'env': [{'name': 'Y', 'value': '2'}]}, {'name': 'b', '$patch': 'delete'}, {'name': 'c', 'image': '3'}],
            'args': ['z'],
            'finalizers': ['f2'],
        }
    }
    out = strategic_merge(cur, patch)
    assert out['spec']['containers'] == [
        {'name': 'a', 'image': '2', 'env': [{'name': 'X', 'value': '1'}, {'name': 'Y', 'value': '2'}]},
        {'name': 'c', 'image': '3'},
    ]
    assert out['spec']['args'] == ['z']
    assert out['spec']['finalizers'] == ['f1', 'f2']
    assert strategic_merge({'a': {'b': 1, 'c': 2}}, {'a': {'$patch': 'replace', 'd': 3}}) == {'a': {'d': 3}}


SCHEMA = {
    'type': 'object',
    'properties': {
        'spec': {
            'type': 'object',
            'required': ['n'],
            'properties': {
                'n': {'type': 'integer', 'minimum': 1, 'maximum': 5},
                's': {'type': 'string', 'minLength': 2, 'maxLength': 4, 'pattern': '^[a-z]+$'},
                'l': {'type': 'array', 'maxItems': 2, 'minItems': 1, 'items': {'type': 'string'}},
                'm': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
                'nul': {'type': 'string', 'nullable': True},
                'free': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True, 'properties': {'k': {'type': 'integer'}}},
            },
        }
    },
}


@pytest.mark.parametrize(
    'spec, expected',
    [
        ({'n': 0}, ['spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1']),
        ({'n': 6}, ['spec.n: Invalid value: 6: spec.n in body should be less than or equal to 5']),
        ({'n': True}, ['spec.n: Invalid value: "boolean": spec.n in body must be of type integer: "boolean"']),
        ({'n': 1, 's': 'a'}, ['spec.s: Invalid value: "a": spec.s in body should be at least 2 chars long']),
        ({'n': 1, 's': 'abcde'}, ['spec.s: Too long: may not be more than 4 bytes']),
        ({'n': 1, 's': 'AB'}, ["spec.s: Invalid value: \"AB\": spec.s in body should match '^[a-z]+$'"]),
        ({'n': 1, 'l': ['a', 'b', 'c']}, ['spec.l: Too many: 3: must have at most 2 items']),
        ({'n': 1, 'l': []}, ['spec.l: Invalid value: 0: spec.l in body should have at least 1 items']),
        ({'n': 1, 'l': [1]}, ['spec.l[0]: Invalid value: "integer": spec.l[0] in body must be of type string: "integer"']),
        ({'n': 1, 'm': {'a': 'x'}}, ['spec.m.a: Invalid value: "string": spec.m.a in body must be of type integer: "string"']),
        ({'n': 1, 'free': {'k': 'x', 'other': 1}}, ['spec.free.k: Invalid value: "string": spec.free.k in body must be of type integer: "string"']),
        ({}, ['spec.n: Required value']),
        ({'n': 1, 'nul': None, 'm': {'a': 1}, 'free': {'zz': [1]}}, []),
    ],
)
def test_schema_messages(spec, expected):
    _st, errors = process_custom_resource(SCHEMA, {'apiVersion': 'x/v1', 'kind': 'X', 'metadata': {}, 'spec': spec})
    assert [str(e) for e in errors] == expected


def test_prune_keeps_root_fields_and_reports_unknown():
    unknown = []
    out = prune(
        SCHEMA, {'apiVersion': 'a', 'kind': 'K', 'metadata': {'x': 1}, 'spec': {'n': 1, 'zz': 1, 'free': {'q': 1}}, 'other': 2}, root=True, unknown=unknown
    )
    assert out == {'apiVersion': 'a', 'kind': 'K', 'metadata': {'x': 1}, 'spec': {'n': 1, 'free': {'q': 1}}}
    assert unknown == ['spec.zz', 'other']


def test_null_of_non_nullable_field_is_dropped():
    out = prune(SCHEMA['properties']['spec'], {'n': None, 'nul': None})
    assert out == {'nul': None}
    assert [str(e) for e in validate(SCHEMA['properties']['spec'], out, 'spec')] == ['spec.n: Required value']


def test_field_error_formatting():
    assert go_value(1.0) == '1' and go_value(1.5) == '1.5' and go_value(True) == 'true' and go_value('a"b') == '"a\\"b"'
    err = FieldError('NotSupported', 'spec.t', 'x', supported=['a', 'b'])
    assert str(err) == 'spec.t: Unsupported value: "x": supported values: "a", "b"'
    assert err.cause() == {'reason': 'FieldValueNotSupported', 'message': 'Unsupported value: "x": supported values: "a", "b"', 'field': 'spec.t'}


@pytest.mark.parametrize('text, value', [('3', 3), ('1k', 1000), ('1Ki', 1024), ('500m', 0.5), ('2Gi', 2 * 2**30)])
def test_quantities(text, value):
    assert float(parse_quantity(text).value) == value


def test_quantity_format_and_errors():
    assert str(parse_quantity('3')) == '3'
    with pytest.raises(QuantityError):
        parse_quantity('three')


@pytest.mark.parametrize(
    'seconds, text',
    [
        (-5, '<invalid>'),
        (-1, '0s'),
        (0, '0s'),
        (119, '119s'),
        (120, '2m'),
        (125, '2m5s'),
        (600, '10m'),
        (3 * 3600, '3h'),
        (3 * 3600 + 60, '3h1m'),
        (9 * 3600, '9h'),
        (50 * 3600, '2d2h'),
        (72 * 3600, '3d'),
        (30 * 86400, '30d'),
        (3 * 365 * 86400, '3y'),
        (10 * 365 * 86400, '10y'),
    ],
)
def test_human_duration(seconds, text):
    from everest_sandbox.kubeapi.table import human_duration  # pylint: disable=import-outside-toplevel

    assert human_duration(seconds) == text


def test_json_path():
    from everest_sandbox.kubeapi.table import json_path  # pylint: disable=import-outside-toplevel

    obj = {'spec': {'a': [{'b': 1}], 'c': 'x'}}
    assert json_path(obj, '.spec.a[0].b') == 1
    assert json_path(obj, '.spec.c') == 'x'
    assert json_path(obj, '.spec.a[3].b') is None
    assert json_path(obj, '.nope') is None
