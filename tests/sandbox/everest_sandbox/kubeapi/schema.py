"""Structural-schema handling of custom resources: pruning, defaulting and OpenAPI v3 validation.

Order as in apiextensions-apiserver: prune unknown fields (and nulls of non-nullable fields), apply
``default`` values, then validate; messages follow kube-openapi as converted to field errors.
Not implemented: ``x-kubernetes-validations`` (CEL), ``format`` checks, list-type uniqueness.
"""

from __future__ import annotations

import copy
import re

from .errors import FieldError, go_value

ROOT_KEPT = ('apiVersion', 'kind', 'metadata')


def _join(path: str, key: str) -> str:
    return f'{path}.{key}' if path else key


def _preserves(schema: dict) -> bool:
    return bool(schema.get('x-kubernetes-preserve-unknown-fields') or schema.get('x-kubernetes-embedded-resource'))


def prune(schema: dict | None, value, root: bool = False, unknown: list | None = None, path: str = ''):
    """Drop fields the schema does not declare (unless preserved) and nulls of non-nullable fields.

    The paths of dropped unknown fields are appended to ``unknown`` (for ``fieldValidation=Strict``)."""
    unknown = [] if unknown is None else unknown
    if schema is None:
        return value
    if isinstance(value, dict):
        props = schema.get('properties') or {}
        addl = schema.get('additionalProperties')
        preserve = _preserves(schema)
        out = {}
        for key, val in value.items():
            if root and key in ROOT_KEPT:
                out[key] = val
                continue
            if key in props:
                sub = props[key]
            elif isinstance(addl, dict):
                sub = addl
            elif preserve or addl is True:
                out[key] = val
                continue
            else:
                unknown.append(_join(path, key))
                continue
            if val is None and not sub.get('nullable'):
                continue
            out[key] = prune(sub, val, unknown=unknown, path=_join(path, key))
        return out
    if isinstance(value, list):
        items = schema.get('items')
        if isinstance(items, dict):
            return [prune(items, v, unknown=unknown, path=f'{path}[{i}]') for i, v in enumerate(value)]
    return value


def apply_defaults(schema: dict | None, value):
    if schema is None:
        return value
    if isinstance(value, dict):
        for key, sub in (schema.get('properties') or {}).items():
            if key not in value and 'default' in sub:
                value[key] = copy.deepcopy(sub['default'])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
        addl = schema.get('additionalProperties')
        if isinstance(addl, dict):
            for key in list(value):
                if key not in (schema.get('properties') or {}):
                    value[key] = apply_defaults(addl, value[key])
    elif isinstance(value, list) and isinstance(schema.get('items'), dict):
        return [apply_defaults(schema['items'], v) for v in value]
    return value


def type_name(value) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'integer' if value.is_integer() else 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    return 'object'


def _type_ok(expected: str, value) -> bool:
    actual = type_name(value)
    if expected == 'number':
        return actual in ('integer', 'number')
    return actual == expected


def _plain(value) -> str:
    if isinstance(value, str):
        return value
    return go_value(value)


def _num(value) -> str:
    return go_value(value)


def validate(schema: dict | None, value, path: str = '', errors: list | None = None) -> list:
    """Validate ``value`` against ``schema``; returns a list of FieldError."""
    errors = [] if errors is None else errors
    if schema is None:
        return errors
    if value is None and schema.get('nullable'):
        return errors
    if schema.get('x-kubernetes-int-or-string'):
        if not (isinstance(value, str) or type_name(value) == 'integer'):
            tname = type_name(value)
            errors.append(FieldError('TypeInvalid', path, tname, f'{path} in body must be of type integer,string: "{tname}"'))
            return errors
    elif schema.get('type'):
        if not _type_ok(schema['type'], value):
            tname = type_name(value)
            errors.append(FieldError('TypeInvalid', path, tname, f'{path} in body must be of type {schema["type"]}: "{tname}"'))
            return errors
    if 'enum' in schema and value not in schema['enum']:
        errors.append(FieldError('NotSupported', path, value, supported=[_plain(v) for v in schema['enum']]))
    if type_name(value) in ('integer', 'number'):
        _validate_number(schema, value, path, errors)
    if isinstance(value, str):
        _validate_string(schema, value, path, errors)
    if isinstance(value, list):
        _validate_array(schema, value, path, errors)
    if isinstance(value, dict):
        _validate_object(schema, value, path, errors)
    for sub in schema.get('allOf') or ():
        validate(sub, value, path, errors)
    for key in ('anyOf', 'oneOf'):
        branches = schema.get(key)
        if branches and not any(not validate(b, value, path, []) for b in branches):
            validate(branches[0], value, path, errors)
    return errors


def _validate_number(schema, value, path, errors):
    if 'minimum' in schema:
        low = schema['minimum']
        if schema.get('exclusiveMinimum') and not value > low:
            errors.append(FieldError('Invalid', path, value, f'{path} in body should be greater than {_num(low)}'))
        elif value < low:
            errors.append(FieldError('Invalid', path, value, f'{path} in body should be greater than or equal to {_num(low)}'))
    if 'maximum' in schema:
        high = schema['maximum']
        if schema.get('exclusiveMaximum') and not value < high:
            errors.append(FieldError('Invalid', path, value, f'{path} in body should be less than {_num(high)}'))
        elif value > high:
            errors.append(FieldError('Invalid', path, value, f'{path} in body should be less than or equal to {_num(high)}'))
    if schema.get('multipleOf') and (value / schema['multipleOf']) % 1:
        errors.append(FieldError('Invalid', path, value, f'{path} in body should be a multiple of {_num(schema["multipleOf"])}'))


def _validate_string(schema, value, path, errors):
    if 'maxLength' in schema and len(value) > schema['maxLength']:
        errors.append(FieldError('TooLong', path, value, limit=schema['maxLength']))
    if 'minLength' in schema and len(value) < schema['minLength']:
        errors.append(FieldError('Invalid', path, value, f'{path} in body should be at least {schema["minLength"]} chars long'))
    if 'pattern' in schema and not re.search(schema['pattern'], value):
        errors.append(FieldError('Invalid', path, value, f"{path} in body should match '{schema['pattern']}'"))


def _validate_array(schema, value, path, errors):
    if 'maxItems' in schema and len(value) > schema['maxItems']:
        errors.append(FieldError('TooMany', path, len(value), limit=schema['maxItems']))
    if 'minItems' in schema and len(value) < schema['minItems']:
        errors.append(FieldError('Invalid', path, len(value), f'{path} in body should have at least {schema["minItems"]} items'))
    if schema.get('uniqueItems'):
        seen = []
        for item in value:
            if item in seen:
                errors.append(FieldError('Duplicate', path, item))
                break
            seen.append(item)
    items = schema.get('items')
    if isinstance(items, dict):
        for idx, item in enumerate(value):
            validate(items, item, f'{path}[{idx}]', errors)


def _validate_object(schema, value, path, errors):
    props = schema.get('properties') or {}
    for key in schema.get('required') or ():
        if key not in value:
            errors.append(FieldError('Required', _join(path, key)))
    if 'maxProperties' in schema and len(value) > schema['maxProperties']:
        errors.append(FieldError('TooMany', path, len(value), limit=schema['maxProperties']))
    if 'minProperties' in schema and len(value) < schema['minProperties']:
        errors.append(FieldError('Invalid', path, len(value), f'{path} in body should have at least {schema["minProperties"]} properties'))
    for key, sub in props.items():
        if key in value:
            validate(sub, value[key], _join(path, key), errors)
    addl = schema.get('additionalProperties')
    if isinstance(addl, dict):
        for key, val in value.items():
            if key not in props:
                validate(addl, val, _join(path, key), errors)


def process_custom_resource(schema: dict | None, obj: dict, unknown: list | None = None) -> tuple:
    """Prune, default and validate a whole custom resource; returns (obj, errors).
    Paths of pruned unknown fields are appended to ``unknown``."""
    if not schema:
        return obj, []
    obj = prune(schema, obj, root=True, unknown=unknown)
    obj = apply_defaults(schema, obj)
    body = {k: v for k, v in obj.items() if k not in ROOT_KEPT}
    root = dict(schema)
    root['properties'] = {k: v for k, v in (schema.get('properties') or {}).items() if k not in ROOT_KEPT}
    root['required'] = [k for k in schema.get('required') or () if k not in ROOT_KEPT]
    return obj, validate(root, body)
