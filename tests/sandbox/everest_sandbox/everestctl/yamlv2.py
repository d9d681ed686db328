"""users.yaml codec: read like gopkg.in/yaml.v2 into the Account struct, write like yaml.v2 (upstream
``pkg/kubernetes/accounts.go``, ``pkg/accounts/types.go``).

Speed matters: every accounts command parses the Secret twice and writes it once, and a Secret with hundreds of
accounts took the pure-Python PyYAML parser ~0.15 s per parse. Parsing therefore uses libyaml (PyYAML's
``CSafeLoader``) when PyYAML was built with it; ``PureLoader`` is the same loader on the pure-Python parser (the
reference the tests compare against, and the fallback). The emitter writes the one known shape directly; its
scalar analysis answers identifiers (most user names) and printable ASCII text without the per-character loops,
giving the same bytes as the general path (``scalar(value, fast=False)``), which tests check over generated
account maps.
"""

from __future__ import annotations

import base64
import functools
import re

import yaml


class PureLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Safe loader that keeps implicit scalars as text (Go decodes them into string/bool fields); pure Python."""


class FastLoader(getattr(yaml, 'CSafeLoader', yaml.SafeLoader)):  # pylint: disable=too-many-ancestors
    """``PureLoader`` on libyaml's parser (the pure-Python one when PyYAML has no libyaml)."""


def _as_text(loader, node):
    return loader.construct_scalar(node)


for _tag in ('timestamp', 'int', 'float', 'bool'):
    PureLoader.add_constructor(f'tag:yaml.org,2002:{_tag}', _as_text)
    FastLoader.add_constructor(f'tag:yaml.org,2002:{_tag}', _as_text)

_GO_TRUE = {'y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'}


def load_users(text: str, loader=FastLoader) -> dict:
    """Parse users.yaml into {name: {enabled, capabilities, passwordMtime, passwordHash(bytes)}}."""
    doc = yaml.load(text, Loader=loader) if text.strip() else {}  # noqa: S506 - safe subclass
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ValueError('yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str into map[string]*accounts.Account')
    users = {}
    for name, acc in doc.items():
        acc = acc if isinstance(acc, dict) else {}
        pw_hash = acc.get('passwordHash')
        if pw_hash is None:
            pw_hash = b''
        elif not isinstance(pw_hash, bytes):
            pw_hash = str(pw_hash).encode('utf-8')
        caps = acc.get('capabilities') or []
        users[str(name)] = {
            'enabled': str(acc.get('enabled')) in _GO_TRUE,
            'capabilities': [str(c) for c in caps] if isinstance(caps, list) else [],
            'passwordMtime': '' if acc.get('passwordMtime') is None else str(acc.get('passwordMtime')),
            'passwordHash': pw_hash,
        }
    return users


# emitting -----------------------------------------------------------------------------------------

_BOOL_NULL = {
    'y',
    'Y',
    'yes',
    'Yes',
    'YES',
    'on',
    'On',
    'ON',
    'true',
    'True',
    'TRUE',
    'n',
    'N',
    'no',
    'No',
    'NO',
    'off',
    'Off',
    'OFF',
    'false',
    'False',
    'FALSE',
    '~',
    'null',
    'Null',
    'NULL',
    '',
    '.inf',
    '.Inf',
    '.INF',
    '+.inf',
    '+.Inf',
    '+.INF',
    '-.inf',
    '-.Inf',
    '-.INF',
    '.nan',
    '.NaN',
    '.NAN',
    '<<',
}
_INT = re.compile(r'^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)$')
_FLOAT = re.compile(r'^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$')
_BASE60 = re.compile(r'^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$')
_IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
_TIMESTAMP = re.compile(r'^\d{4}-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d*)?\s*(Z|[-+]\d{1,2}(:\d{2})?)?)?$')
_ESCAPES = {
    '\0': '\\0',
    '\a': '\\a',
    '\b': '\\b',
    '\t': '\\t',
    '\n': '\\n',
    '\v': '\\v',
    '\f': '\\f',
    '\r': '\\r',
    '\x1b': '\\e',
    '"': '\\"',
    '\\': '\\\\',
    '\x85': '\\N',
    '\xa0': '\\_',
    '\u2028': '\\L',
    '\u2029': '\\P',
}


def _resolves_to_non_str(text: str) -> bool:
    return text in _BOOL_NULL or bool(_INT.match(text)) or bool(_FLOAT.match(text)) or bool(_TIMESTAMP.match(text)) or bool(_BASE60.match(text))


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0x7E
        or code == 0x85
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        and code != 0xFEFF
        or 0x10000 <= code <= 0x10FFFF
    )


def _plain_allowed(text: str) -> bool:
    """Approximation of libyaml's yaml_emitter_analyze_scalar for block context."""
    if not text or text[0] in ' ' or text[-1] in ' ' or text[-1] == ':':
        return False
    if text.startswith(('---', '...')):
        return False
    if text[0] in '#,[]{}&*!|>\'"%@`':
        return False
    if text[0] in '-?:' and (len(text) == 1 or text[1] == ' '):
        return False
    if ': ' in text or ' #' in text:
        return False
    if text.isascii():  # the same answer as the loop below for ASCII: 0x20-0x7E only
        return text.isprintable()
    return all(_printable(ch) and ch not in '\t\n\r\x85\u2028\u2029\ufeff' for ch in text)


def _double_quoted(text: str) -> str:
    if text.isascii() and text.isprintable() and '"' not in text and '\\' not in text:
        return '"' + text + '"'  # nothing to escape
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif not _printable(ch) or ch == '\ufeff':
            code = ord(ch)
            out.append(f'\\x{code:02X}' if code <= 0xFF else f'\\u{code:04X}' if code <= 0xFFFF else f'\\U{code:08X}')
        else:
            out.append(ch)
    return '"' + ''.join(out) + '"'


def scalar(value, fast: bool = True) -> str:
    """yaml.v2 rendering of a Go string (bytes that are not UTF-8 become !!binary).

    ``fast``: answer identifiers (``[A-Za-z_][A-Za-z0-9_]*``, the usual user names and capabilities) without the
    general analysis: such a text never starts with an indicator, has no space and resolves to a non-string only
    as one of the bool/null words; ``fast=False`` is the general path the short cut must agree with."""
    if isinstance(value, bytes):
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            return '!!binary ' + base64.b64encode(value).decode('ascii')
    if fast and _IDENTIFIER.match(value):
        return '"' + value + '"' if value in _BOOL_NULL else value
    if '\n' in value:
        return _double_quoted(value)
    if _resolves_to_non_str(value) or not _plain_allowed(value):
        return _double_quoted(value)
    return value


def _key_less(left: str, right: str) -> bool:  # pylint: disable=too-many-return-statements
    """yaml.v2 keyList.Less for string keys."""
    for i in range(min(len(left), len(right))):
        lch, rch = left[i], right[i]
        if lch == rch:
            continue
        l_letter, r_letter = lch.isalpha(), rch.isalpha()
        if l_letter and r_letter:
            return lch < rch
        if l_letter or r_letter:
            return r_letter
        lnum = rnum = 0
        if lch == '0' or rch == '0':
            j = i - 1
            while j >= 0 and left[j].isdigit():
                if left[j] != '0':
                    lnum = rnum = 1
                    break
                j -= 1
        lend = i
        while lend < len(left) and left[lend].isdigit():
            lnum = lnum * 10 + int(left[lend])
            lend += 1
        rend = i
        while rend < len(right) and right[rend].isdigit():
            rnum = rnum * 10 + int(right[rend])
            rend += 1
        if lnum != rnum:
            return lnum < rnum
        if lend != rend:
            return lend < rend
        return lch < rch
    return len(left) < len(right)


def sorted_keys(keys) -> list[str]:
    return sorted(keys, key=functools.cmp_to_key(lambda a, b: -1 if _key_less(a, b) else (1 if _key_less(b, a) else 0)))


def dump_users(users: dict, fast: bool = True) -> str:
    """Marshal like yaml.v2 (keys sorted, struct field order, sequences not indented); ``fast`` as in ``scalar``."""
    if not users:
        return '{}\n'
    lines = []
    for name in sorted_keys(users):
        acc = users[name]
        lines.append(f'{scalar(name, fast)}:')
        lines.append(f"  enabled: {'true' if acc.get('enabled') else 'false'}")
        caps = acc.get('capabilities') or []
        if caps:
            lines.append('  capabilities:')
            lines.extend(f'  - {scalar(c, fast)}' for c in caps)
        else:
            lines.append('  capabilities: []')
        lines.append(f"  passwordMtime: {scalar(acc.get('passwordMtime') or '', fast)}")
        lines.append(f"  passwordHash: {scalar(acc.get('passwordHash') or b'', fast)}")
    return '\n'.join(lines) + '\n'
