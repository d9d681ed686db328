"""Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), a strategic-merge subset."""

from __future__ import annotations

import copy

# patchMergeKey of list fields of the built-in kinds we serve (k8s.io/api struct tags).
STRATEGIC_MERGE_KEYS = {
    'containers': 'name',
    'initContainers': 'name',
    'ephemeralContainers': 'name',
    'volumes': 'name',
    'env': 'name',
    'volumeMounts': 'mountPath',
    'imagePullSecrets': 'name',
    'ports': 'containerPort',
    'conditions': 'type',
    'tolerations': None,
    'ownerReferences': 'uid',
}
# lists of scalars merged as sets (patchStrategy:"merge" on []string)
STRATEGIC_MERGE_SETS = {'finalizers'}


class PatchError(Exception):
    """A patch that cannot be applied (answered 422 by the server)."""


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace('~1', '/').replace('~0', '~')


def _parse_pointer(path: str) -> list:
    if path == '':
        return []
    if not path.startswith('/'):
        raise PatchError(f'JSON pointer must be empty or start with a "/": "{path}"')
    return [_unescape(t) for t in path[1:].split('/')]


def _container(doc, tokens, path, op):
    cur = doc
    for token in tokens[:-1]:
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
            cur = cur[token]
        elif isinstance(cur, list):
            try:
                cur = cur[int(token)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value') from exc
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return cur


def _list_index(lst: list, token: str, path: str, allow_end: bool) -> int:
    if token == '-' and allow_end:
        return len(lst)
    try:
        idx = int(token)
    except ValueError as exc:
        raise PatchError(f'Unable to access invalid index: {token}: invalid index referenced') from exc
    limit = len(lst) if allow_end else len(lst) - 1
    if idx < 0 or idx > limit:
        raise PatchError(f'Unable to access invalid index: {idx}: invalid index referenced in "{path}"')
    return idx


def _get(doc, path, op):
    tokens = _parse_pointer(path)
    if not tokens:
        return doc
    cont = _container(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(cont, dict):
        if last not in cont:
            raise PatchError(f'{op} operation does not apply: doc is missing key: {path}: missing value')
        return cont[last]
    if isinstance(cont, list):
        return cont[_list_index(cont, last, path, False)]
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _remove(doc, path, op='remove'):
    tokens = _parse_pointer(path)
    cont = _container(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(cont, dict):
        if last not in cont:
            raise PatchError(f'{op} operation does not apply: doc is missing key: {path}: missing value')
        return cont.pop(last)
    if isinstance(cont, list):
        return cont.pop(_list_index(cont, last, path, False))
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc, path, value, op='add'):
    tokens = _parse_pointer(path)
    if not tokens:
        return value
    cont = _container(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(cont, dict):
        cont[last] = value
    elif isinstance(cont, list):
        cont.insert(_list_index(cont, last, path, True), value)
    else:
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def json_patch(doc, operations):
    """RFC 6902 incl. ``test``; raises PatchError with texts close to evanphx/json-patch."""
    if not isinstance(operations, list):
        raise ValueError('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    doc = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ValueError('json: cannot unmarshal into Go value of type jsonpatch.Operation')
        op = operation.get('op')
        path = operation.get('path')
        if not isinstance(path, str):
            raise PatchError(f'{op} operation does not apply: doc is missing path: <nil>')
        if op in ('add', 'replace', 'test') and 'value' not in operation:
            raise PatchError(f'{op} operation does not apply: value is missing')
        value = copy.deepcopy(operation.get('value'))
        if op == 'add':
            doc = _add(doc, path, value)
        elif op == 'remove':
            _remove(doc, path)
        elif op == 'replace':
            if _parse_pointer(path):
                _get(doc, path, 'replace')
                _remove(doc, path, 'replace')
            doc = _add(doc, path, value, 'replace')
        elif op in ('move', 'copy'):
            src = operation.get('from')
            if not isinstance(src, str):
                raise PatchError(f'{op} operation does not apply: from is missing')
            moved = _remove(doc, src, op) if op == 'move' else copy.deepcopy(_get(doc, src, op))
            doc = _add(doc, path, moved, op)
        elif op == 'test':
            if _get(doc, path, 'test') != value:
                raise PatchError(f'testing value {path} failed: test failed')
        else:
            raise PatchError(f'Unexpected kind: {op}')
    return doc


def _merge_list(field, target: list, patch: list):
    if field in STRATEGIC_MERGE_SETS:
        out = list(target)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    key = STRATEGIC_MERGE_KEYS.get(field)
    if not key or not all(isinstance(i, dict) for i in patch) or not all(isinstance(i, dict) for i in target):
        return [strip_directives(i) for i in copy.deepcopy(patch)]
    out = copy.deepcopy(target)
    for item in patch:
        directive = item.get('$patch')
        idx = next((n for n, cur in enumerate(out) if cur.get(key) == item.get(key)), None)
        if directive == 'delete':
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(strip_directives(item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def strip_directives(value):
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith('$')}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def strategic_merge(target, patch, field=None):
    """Strategic merge patch for built-in kinds: maps merge, null deletes, known lists merge by key,
    other lists are replaced; ``$patch: replace|delete`` on maps and list items is honoured."""
    if not isinstance(patch, dict):
        if isinstance(patch, list) and isinstance(target, list):
            return _merge_list(field, target, patch)
        return strip_directives(copy.deepcopy(patch))
    directive = patch.get('$patch')
    if directive == 'replace':
        return strip_directives({k: v for k, v in patch.items() if k != '$patch'})
    if directive == 'delete':
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith('$'):
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = strategic_merge(result.get(key), value, key)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    return result
