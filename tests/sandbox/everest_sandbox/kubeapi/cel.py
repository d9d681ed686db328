"""CEL for ValidatingAdmissionPolicy: compile-time checks and evaluation, with the Kubernetes libraries.

Engine: ``cel-expr-python`` (Google's CEL runtime, cel-cpp, with its parser and type checker). Its parse and
type errors have the texts cel-go prints (``ERROR: <input>:1:5: Syntax error: ...``, ``undeclared reference to
'foo' (in container '')``, ``found no matching overload for ...``) with the source line and caret. The one
difference, the signature of a failed *member* call (cel-go ``'kubernetes.Quantity.(string)'``, cel-cpp
``'(kubernetes.Quantity, string)'``), is rewritten to cel-go's form.

Each expression is compiled twice:

* the *check* environment declares what kube-apiserver declares (``object``, ``oldObject``, ``request``,
  ``namespaceObject``, ``variables`` and ``authorizer`` as ``dyn``, ``params`` only when the policy has a
  ``paramKind``) and the libraries with their real types (``kubernetes.Quantity`` is an opaque type), so a
  wrong call such as ``quantity('1').isGreaterThan('2')`` fails at policy create time as on a real server;
  the result type must be ``bool`` (validations, matchConditions), ``string`` (messageExpression) or
  ``string``/``null`` (audit annotations), else ``must evaluate to bool``;
* the *evaluation* environment (unchecked) has the same functions bound to Python code. The Python binding of
  cel-cpp cannot carry opaque values, so at run time a Quantity travels as a ``bytes`` value holding its exact
  value (so ``==`` compares values, ``quantity('200M') == quantity('0.2G')``); the Go representation, which
  ``asInteger``/``isInteger`` depend on, is kept per evaluation context (``evaluation()``), keyed by that value.

Kubernetes libraries provided (k8s.io/apiserver/pkg/cel/library): quantity (``quantity.py`` is the port
of Go's ``resource.Quantity``), lists (``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``),
regex (``find``, ``findAll``; Python ``re`` standing in for RE2), the strings extension (``charAt``,
``indexOf``, ``lastIndexOf``, ``lowerAscii``, ``upperAscii``, ``replace``, ``split``, ``substring``, ``trim``,
``join``, ``format`` for ``%s %d %f %e %x %X %o %b``, ``strings.quote``) and optional types (``obj.?field``).
Not provided: sets, IP/CIDR, URL, format, authorizer and semver libraries; cross-type numeric comparisons
are supported at run time (``object.spec.replicas < 1.5``) but between two literals of different numeric
types (``1 < 1.5``) they are a compile error here, not on a real server; list literals are not forced to be
homogeneous; ``request``/``namespaceObject`` are untyped, so a misspelt field of theirs is a run-time error.

Run-time errors read as cel-go's (``no such key: spec``, ``no such overload``, ``division by zero``, the
library's own texts such as ``cannot convert value to integer``).

Cost: cel-cpp does not report evaluation cost, so the sandbox *estimates* it per evaluation as
``tokens x (L + 1) ^ d``: ``tokens`` is the number of lexical tokens of the expression, ``L`` the largest list
or map in the inputs, ``d`` the nesting depth of comprehension macros (``all``, ``exists``, ``exists_one``,
``map``, ``filter``). An estimate above 1,000,000 is the per-call error ``operation cancelled: actual cost limit
exceeded``; the policy-wide budget of 10,000,000 is enforced by the caller (``vap.py``) with these estimates.
"""

from __future__ import annotations

import contextlib
import re
import threading
from fractions import Fraction

from . import quantity as qty

try:
    from cel_expr_python import cel as _cel

    HAS_CEL = True
except ImportError:  # pragma: no cover - the sandbox pins cel-expr-python in test-requirements.txt
    _cel = None
    HAS_CEL = False

PER_CALL_LIMIT = 1_000_000
RUNTIME_BUDGET = 10_000_000
COST_EXCEEDED = 'operation cancelled: actual cost limit exceeded'
_Q_PREFIX = b'\xffkubernetes.Quantity:'
_MACROS = ('all', 'exists', 'exists_one', 'map', 'filter')
_TOKEN = re.compile(
    r"""[rRbB]*'''.*?'''|[rRbB]*\"\"\".*?\"\"\"|[rRbB]*'(?:\\.|[^'\\])*'|[rRbB]*"(?:\\.|[^"\\])*"|"""
    r"""[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\?\.|&&|\|\||[=!<>]=|\S""",
    re.S,
)
_RESULT_TYPES = {'bool': ('BOOL',), 'string': ('STRING',), 'audit': ('STRING', 'NULL_TYPE', 'NULL'), 'any': None}
_RESULT_TEXT = {'bool': 'must evaluate to bool', 'string': 'must evaluate to string', 'audit': 'must evaluate to one of [string null_type]'}


class CompileError(Exception):
    """A compile-time failure; ``detail`` is what the API server puts after ``Invalid value: "<expr>": ``."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class EvalError(Exception):
    """A run-time error with cel-go's text (``no such key: x``)."""


# ---------------------------------------------------------------------------------------------- evaluation context


class _Context(threading.local):
    quantities: dict | None = None


_CTX = _Context()


@contextlib.contextmanager
def evaluation():
    """Scope of one admission evaluation: Quantity values created inside it keep their Go representation."""
    previous = _CTX.quantities
    _CTX.quantities = {}
    try:
        yield
    finally:
        _CTX.quantities = previous


def _q_out(quantity: qty.Quantity) -> bytes:
    value = quantity.value
    key = _Q_PREFIX + f'{value.numerator}/{value.denominator}'.encode()
    if _CTX.quantities is not None:
        _CTX.quantities[key] = quantity
    return key


def _q_in(key) -> qty.Quantity:
    if not isinstance(key, (bytes, bytearray)) or not key.startswith(_Q_PREFIX):
        raise EvalError('no such overload')
    key = bytes(key)
    known = (_CTX.quantities or {}).get(key)
    if known is not None:
        return known
    value = Fraction(key[len(_Q_PREFIX) :].decode())
    scale = 0
    while value.denominator != 1:
        value *= 10
        scale -= 1
    return qty.Quantity(int(value), scale, qty.DECIMAL_SI, qty.DEC)


# ---------------------------------------------------------------------------------------------- library functions


def _quantity(text):
    try:
        return _q_out(qty.parse(text))
    except qty.QuantityError as exc:
        raise EvalError(str(exc)) from None


def _is_quantity(text):
    try:
        qty.parse(text)
    except qty.QuantityError:
        return False
    return True


def _as_integer(key):
    value, ok = _q_in(key).as_int64()
    if not ok:
        raise EvalError('cannot convert value to integer')
    return value


def _compare(items):
    return [(_q_in(i) if isinstance(i, (bytes, bytearray)) and i.startswith(_Q_PREFIX) else i) for i in items]


def _extreme(name, pick):
    def run(items):
        if not items:
            raise EvalError(f'{name} called on empty list')
        best = items[0]
        for item in items[1:]:
            if pick(item, best):
                best = item
        return best

    return run


def _index_of(items, item, last=False):
    order = range(len(items) - 1, -1, -1) if last else range(len(items))
    for idx in order:
        if items[idx] == item and type(items[idx]) is type(item):
            return idx
    return -1


def _str_index(text, sub, start=0, last=False):
    if start < 0 or start > len(text):
        raise EvalError(f'index out of range: {start}')
    if last:
        return text.rfind(sub, 0, start + len(sub)) if start else text.rfind(sub)
    return text.find(sub, start)


def _substring(text, start, end=None):
    end = len(text) if end is None else end
    if start < 0 or start > len(text):
        raise EvalError(f'index out of range: {start}')
    if end < 0 or end > len(text):
        raise EvalError(f'index out of range: {end}')
    if start > end:
        raise EvalError(f'invalid substring range. start: {start}, end: {end}')
    return text[start:end]


def _char_at(text, idx):
    if idx < 0 or idx > len(text):
        raise EvalError(f'index out of range: {idx}')
    return text[idx : idx + 1]


def _split(text, sep, limit=-1):
    if limit == 0:
        return []
    parts = text.split(sep, limit - 1) if limit > 0 else text.split(sep) if sep else list(text)
    if sep == '' and limit > 0:
        parts = list(text[: limit - 1]) + ([text[limit - 1 :]] if text[limit - 1 :] else [])
    return parts


def _replace(text, old, new, limit=-1):
    return text.replace(old, new) if limit < 0 else text.replace(old, new, limit)


_FORMAT_VERB = re.compile(r'%(?:\.(\d+))?([sdfeExXob%])')


def _format(template, args):
    out, pos, used = [], 0, 0
    for match in _FORMAT_VERB.finditer(template):
        out.append(template[pos : match.start()])
        pos = match.end()
        verb = match.group(2)
        if verb == '%':
            out.append('%')
            continue
        if used >= len(args):
            raise EvalError(f'index {used} out of range')
        out.append(_format_one(verb, match.group(1), args[used]))
        used += 1
    out.append(template[pos:])
    return ''.join(out)


def _format_one(verb, precision, value):
    if isinstance(value, (bytes, bytearray)) and value.startswith(_Q_PREFIX):
        value = str(_q_in(value))
    if verb == 's':
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return 'null' if value is None else str(value)
    if verb in 'fe':
        prec = 6 if precision is None else int(precision)
        return f'{float(value):.{prec}{verb}}'
    spec = {'d': 'd', 'x': 'x', 'X': 'X', 'o': 'o', 'b': 'b'}[verb]
    if isinstance(value, str) and verb in 'xX':
        return value.encode().hex() if verb == 'x' else value.encode().hex().upper()
    return format(int(value), spec)


def _quote(text):
    escaped = text.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n').replace('\r', '\\r').replace('\t', '\\t')
    return '"' + escaped + '"'


def _find(text, regex):
    try:
        match = re.search(regex, text)
    except re.error as exc:
        raise EvalError(f'error parsing regexp: {exc}') from None
    return match.group(0) if match else ''


def _find_all(text, regex, limit=-1):
    try:
        found = [m.group(0) for m in re.finditer(regex, text)]
    except re.error as exc:
        raise EvalError(f'error parsing regexp: {exc}') from None
    return found if limit < 0 else found[:limit]


# ---------------------------------------------------------------------------------------------- declarations


def _library():
    """[(name, overload id, param type names, result type name, member?, impl)] -- the one table both envs use."""
    q, cmp_types = 'Q', ('int', 'uint', 'double', 'bool', 'duration', 'timestamp', 'string', 'bytes')
    rows = [
        ('quantity', 'string_to_quantity', ('string',), q, False, _quantity),
        ('isQuantity', 'is_quantity_string', ('string',), 'bool', False, _is_quantity),
        ('sign', 'quantity_sign', (q,), 'int', False, lambda a: _q_in(a).sign()),
        ('isGreaterThan', 'quantity_is_greater_than', (q, q), 'bool', True, lambda a, b: _q_in(a).cmp(_q_in(b)) == 1),
        ('isLessThan', 'quantity_is_less_than', (q, q), 'bool', True, lambda a, b: _q_in(a).cmp(_q_in(b)) == -1),
        ('compareTo', 'quantity_compare_to', (q, q), 'int', True, lambda a, b: _q_in(a).cmp(_q_in(b))),
        ('asApproximateFloat', 'quantity_get_float', (q,), 'double', True, lambda a: _q_in(a).approximate_float()),
        ('asInteger', 'quantity_get_int', (q,), 'int', True, _as_integer),
        ('isInteger', 'quantity_is_integer', (q,), 'bool', True, lambda a: _q_in(a).as_int64()[1]),
        ('add', 'quantity_add', (q, q), q, True, lambda a, b: _q_out(_q_in(a).add(_q_in(b)))),
        ('add', 'quantity_add_int', (q, 'int'), q, True, lambda a, b: _q_out(_q_in(a).add(qty.from_int(b)))),
        ('sub', 'quantity_sub', (q, q), q, True, lambda a, b: _q_out(_q_in(a).sub(_q_in(b)))),
        ('sub', 'quantity_sub_int', (q, 'int'), q, True, lambda a, b: _q_out(_q_in(a).sub(qty.from_int(b)))),
        ('indexOf', 'list_a_index_of_int', ('list', 'dyn'), 'int', True, _index_of),
        ('lastIndexOf', 'list_a_last_index_of_int', ('list', 'dyn'), 'int', True, lambda l, x: _index_of(l, x, True)),
        ('indexOf', 'string_index_of_string', ('string', 'string'), 'int', True, _str_index),
        ('indexOf', 'string_index_of_string_int', ('string', 'string', 'int'), 'int', True, _str_index),
        ('lastIndexOf', 'string_last_index_of_string', ('string', 'string'), 'int', True, lambda s, x: _str_index(s, x, last=True)),
        ('lastIndexOf', 'string_last_index_of_string_int', ('string', 'string', 'int'), 'int', True, lambda s, x, i: _str_index(s, x, i, True)),
        ('charAt', 'string_char_at_int', ('string', 'int'), 'string', True, _char_at),
        ('lowerAscii', 'string_lower_ascii', ('string',), 'string', True, lambda s: ''.join(c.lower() if c.isascii() else c for c in s)),
        ('upperAscii', 'string_upper_ascii', ('string',), 'string', True, lambda s: ''.join(c.upper() if c.isascii() else c for c in s)),
        ('replace', 'string_replace_string_string', ('string', 'string', 'string'), 'string', True, _replace),
        ('replace', 'string_replace_string_string_int', ('string', 'string', 'string', 'int'), 'string', True, _replace),
        ('split', 'string_split_string', ('string', 'string'), 'list_string', True, _split),
        ('split', 'string_split_string_int', ('string', 'string', 'int'), 'list_string', True, _split),
        ('substring', 'string_substring_int', ('string', 'int'), 'string', True, _substring),
        ('substring', 'string_substring_int_int', ('string', 'int', 'int'), 'string', True, _substring),
        ('trim', 'string_trim', ('string',), 'string', True, str.strip),
        ('join', 'list_join', ('list_string',), 'string', True, ''.join),
        ('join', 'list_join_string', ('list_string', 'string'), 'string', True, lambda l, s: s.join(l)),
        ('format', 'string_format', ('string', 'list'), 'string', True, _format),
        ('strings.quote', 'strings_quote', ('string',), 'string', False, _quote),
        ('find', 'string_find_string', ('string', 'string'), 'string', True, _find),
        ('findAll', 'string_find_all_string', ('string', 'string'), 'list_string', True, _find_all),
        ('findAll', 'string_find_all_string_int', ('string', 'string', 'int'), 'list_string', True, _find_all),
    ]
    for tname in cmp_types:
        rows.append(
            (
                'isSorted',
                f'list_{tname}_is_sorted_bool',
                (f'list_{tname}',),
                'bool',
                True,
                lambda l: all(not a > b for a, b in zip(_compare(l), _compare(l[1:]))),
            )
        )
        rows.append(('min', f'list_{tname}_min_{tname}', (f'list_{tname}',), tname, True, _extreme('min', lambda a, b: a < b)))
        rows.append(('max', f'list_{tname}_max_{tname}', (f'list_{tname}',), tname, True, _extreme('max', lambda a, b: a > b)))
    for tname, zero in (('int', 0), ('uint', 0), ('double', 0.0)):
        rows.append(('sum', f'list_{tname}_sum_{tname}', (f'list_{tname}',), tname, True, lambda l, zero=zero: sum(l, zero)))
    return rows


def _type(name: str, quantity_type):
    cel_t = _cel.Type
    if name == 'Q':
        return quantity_type
    if name.startswith('list_'):
        return cel_t.List(_type(name[5:], quantity_type))
    if name == 'list':
        return cel_t.List(cel_t.DYN)
    return {
        'int': cel_t.INT,
        'uint': cel_t.UINT,
        'double': cel_t.DOUBLE,
        'bool': cel_t.BOOL,
        'string': cel_t.STRING,
        'bytes': cel_t.BYTES,
        'duration': cel_t.DURATION,
        'timestamp': cel_t.TIMESTAMP,
        'dyn': cel_t.DYN,
    }[name]


_RUNTIME_KINDS = ('int', 'uint', 'double', 'bool', 'string', 'bytes', 'null', 'list', 'map', 'duration', 'timestamp')


def _runtime_type(name):
    cel_t = _cel.Type
    if name == 'null':
        return cel_t.NULL
    if name == 'map':
        return cel_t.Map(cel_t.DYN, cel_t.DYN)
    return _type(name, cel_t.BYTES)


def _wrap(impl):
    """Python exceptions from library code become CEL errors with the library's text (cel-cpp keeps the message)."""

    def call(*args):
        try:
            return impl(*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EvalError(str(exc) or 'no such overload') from None

    return call


def _declarations(runtime: bool) -> list:
    cel_t = _cel.Type
    quantity_type = cel_t.BYTES if runtime else cel_t.AbstractType('kubernetes.Quantity')
    by_name: dict = {}
    seen = set()
    for name, oid, params, result, member, impl in _library():
        variants = [params]
        if runtime:  # cel-cpp dispatches on run-time kinds: lists are lists, dyn is one overload per kind
            params = tuple('list' if p.startswith('list') else p for p in params)
            variants = [tuple(k if p == 'dyn' else p for p in params) for k in _RUNTIME_KINDS] if 'dyn' in params else [params]
        for variant in variants:
            if runtime and (name, member, variant) in seen:
                continue
            seen.add((name, member, variant))
            suffix = '' if variant == params else '_' + '_'.join(variant)
            types = [(_runtime_type(p) if runtime else _type(p, quantity_type)) for p in variant]
            result_t = _runtime_type(result) if runtime and result != 'dyn' else _type(result, quantity_type)
            by_name.setdefault(name, []).append(_cel.Overload(oid + suffix, result_t, types, is_member=member, impl=_wrap(impl)))
    return [_cel.FunctionDecl(name, overloads) for name, overloads in by_name.items()]


# ---------------------------------------------------------------------------------------------- environments

_ENV_LOCK = threading.Lock()
_ENVS: dict = {}
VARIABLES = ('object', 'oldObject', 'request', 'namespaceObject', 'variables')


def _env(kind: str, has_params: bool, has_authorizer: bool):
    """kind 'check' or 'eval'; cached."""
    key = (kind, has_params, has_authorizer)
    with _ENV_LOCK:
        if key not in _ENVS:
            if not HAS_CEL:
                raise CompileError('CEL is not available in this sandbox: install cel-expr-python (test-requirements.txt)')
            names = list(VARIABLES) + (['params'] if has_params else []) + (['authorizer'] if has_authorizer else [])
            config = _cel.NewEnvConfigFromYaml('extensions:\n  - name: optional\n')
            _ENVS[key] = _cel.NewEnv(config=config, variables={n: _cel.Type.DYN for n in names}, functions=_declarations(kind == 'eval'))
        return _ENVS[key]


# ---------------------------------------------------------------------------------------------- compile

_STATUS_PREFIX = re.compile(r'^[A-Z_]+: ')
_STATUS_SUFFIX = re.compile(r' \[[A-Z_]+\]$')
_NO_OVERLOAD = re.compile(r"^(ERROR: <input>:(\d+):(\d+): found no matching overload for '([^']+)' applied to )'\((.*)\)'$")


def _cpp_message(text: str) -> str:
    return _STATUS_SUFFIX.sub('', _STATUS_PREFIX.sub('', text.strip(), count=1))


def _member_call(source: str, line: int, col: int, name: str) -> bool:
    lines = source.split('\n')
    if not 1 <= line <= len(lines):
        return False
    before = lines[line - 1][: max(col - 1, 0)].rstrip()
    return before.endswith(name) and before[: -len(name)].rstrip().endswith('.')


def _go_issues(source: str, text: str) -> str:
    """cel-cpp issue text -> cel-go's: member-call overload signatures as ``Recv.(args)``; an undeclared
    qualified name (``params.x``) is reported for its first identifier, where it starts."""
    out, skip = [], 0
    for line in _cpp_message(text).split('\n'):
        if skip:
            skip -= 1
            continue
        match = _NO_OVERLOAD.match(line)
        if match and _member_call(source, int(match.group(2)), int(match.group(3)), match.group(4)):
            args = _split_types(match.group(5))
            line = f"{match.group(1)}'{args[0]}.({', '.join(args[1:])})'"
        undeclared = _UNDECLARED.match(line)
        if undeclared and '.' in undeclared.group(3):
            offset = _offset(source, int(undeclared.group(1)), int(undeclared.group(2)))
            head, _dot, _tail = undeclared.group(3).partition('.')
            start = offset - len(undeclared.group(3).rpartition('.')[0])
            out.append(issue(source, start, f"undeclared reference to '{head}' (in container '{undeclared.group(4)}')"))
            skip = 2
            continue
        out.append(line)
    return '\n'.join(out)


_UNDECLARED = re.compile(r"^ERROR: <input>:(\d+):(\d+): undeclared reference to '([^']+)' \(in container '([^']*)'\)$")


def _offset(source: str, line: int, col: int) -> int:
    lines = source.split('\n')
    return sum(len(text) + 1 for text in lines[: line - 1]) + col - 1


def _split_types(text: str) -> list:
    parts, depth, cur = [], 0, ''
    for char in text:
        if char == ',' and depth == 0:
            parts.append(cur.strip())
            cur = ''
            continue
        depth += char in '(<'
        depth -= char in ')>'
        cur += char
    parts.append(cur.strip())
    return parts


def issue(source: str, offset: int, message: str) -> str:
    """An issue in cel-go's format at a character offset of ``source``."""
    line = source.count('\n', 0, offset) + 1
    start = source.rfind('\n', 0, offset) + 1
    col = offset - start
    text = source.split('\n')[line - 1]
    return f'ERROR: <input>:{line}:{col + 1}: {message}\n | {text}\n | {"." * col}^'


def _check_variable_refs(source: str, declared) -> list:
    """``variables.<name>`` must name a variable declared before (cel-go: a field of the composited type)."""
    issues = []
    for match in re.finditer(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|\bvariables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", source):
        name = match.group(1)
        if name and name not in declared:
            dot = source.index('.', match.start())
            issues.append(issue(source, dot, f"undefined field '{name}'"))
    return issues


class Program:
    """One compiled expression."""

    def __init__(self, source: str, result: str = 'bool', has_params: bool = False, has_authorizer: bool = True, variables: tuple = ()):
        self.source = source
        self.result = result
        self.variables = tuple(variables)
        self.has_params = has_params
        try:
            checked = _env('check', has_params, has_authorizer).compile(source)
        except RuntimeError as exc:
            raise CompileError('compilation failed: ' + _go_issues(source, str(exc))) from None
        refs = _check_variable_refs(source, self.variables)
        if refs:
            raise CompileError('compilation failed: ' + '\n'.join(refs))
        accepted = _RESULT_TYPES[result]
        if accepted is not None and checked.return_type().name().upper() not in accepted:
            raise CompileError(_RESULT_TEXT[result])
        self._program = _env('eval', has_params, has_authorizer).compile(source, disable_check=True)
        self.tokens, self.depth = _shape(source)
        self.used_variables = tuple(sorted(set(re.findall(r'\bvariables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)', source))))

    def cost(self, largest: int) -> int:
        return self.tokens * (largest + 1) ** self.depth

    def evaluate(self, activation: dict, largest: int = 0):
        """The value (Python) or EvalError; also returns the estimated cost: ``(value, cost)``."""
        cost = self.cost(largest)
        if cost > PER_CALL_LIMIT:
            raise EvalError(COST_EXCEEDED)
        try:
            result = self._program.eval(data=activation)
        except RuntimeError as exc:
            raise EvalError(runtime_message(str(exc))) from None
        if result.type().name().upper() == 'ERROR':
            raise EvalError(runtime_message(str(result.value())))
        return result.plain_value(), cost


def _shape(source: str) -> tuple:
    """(token count, macro nesting depth) for the cost estimate."""
    tokens = _TOKEN.findall(source)
    stack, depth, best = [], 0, 0
    for idx, tok in enumerate(tokens):
        if tok == '(':
            macro = idx >= 2 and tokens[idx - 1] in _MACROS and tokens[idx - 2] == '.'
            stack.append(macro)
            depth += macro
            best = max(best, depth)
        elif tok == ')' and stack:
            depth -= stack.pop()
    return len(tokens), best


_RUNTIME = (
    (re.compile(r'^Key not found in map : "(.*)"$', re.S), lambda m: f'no such key: {m.group(1)}'),
    (re.compile(r'^No matching overloads? found.*$', re.S), lambda m: 'no such overload'),
    (re.compile(r'^divide by zero$'), lambda m: 'division by zero'),
    (re.compile(r'^Index error: index=(-?\d+) size=(\d+)$'), lambda m: f"index '{m.group(1)}' out of range in list size '{m.group(2)}'"),
    (re.compile(r'^no_such_field : (.*)$'), lambda m: f'no such key: {m.group(1)}'),
)


def runtime_message(text: str) -> str:
    text = _cpp_message(text)
    for pattern, make in _RUNTIME:
        match = pattern.match(text)
        if match:
            return make(match)
    return text


# ---------------------------------------------------------------------------------------------- inputs


def to_cel(value):
    """JSON data -> values cel-cpp accepts (integers outside int64 become doubles, as JSON decoding does in Go)."""
    if isinstance(value, dict):
        return {str(k): to_cel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cel(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not qty.INT64_MIN <= value <= qty.INT64_MAX:
        return float(value)
    return value


def largest_collection(value, limit: int = 100_000) -> int:
    """Size of the largest list or map inside ``value`` (for the cost estimate)."""
    best, stack, seen = 0, [value], 0
    while stack and seen < limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            best = max(best, len(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            best = max(best, len(item))
            stack.extend(item)
    return best
