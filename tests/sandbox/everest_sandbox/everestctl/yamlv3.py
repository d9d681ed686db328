"""The ``oidc.config`` text of ConfigMap ``everest-settings``: ``yaml.Marshal`` of gopkg.in/yaml.v3.

Everest marshals ``common.OIDCConfig{IssuerURL, ClientID, Scopes}`` (``pkg/common/settings.go``) with yaml.v3, so
the text is a block mapping in field order, ``issuerUrl``, ``clientId``, ``scopes``, with the list items indented
4 spaces (v3's default indent is 4 and, unlike libyaml, it indents a sequence inside a mapping) and no line
wrapping (v3's emitter width is unlimited)::

    issuerUrl: https://idp.example.com/realms/acme
    clientId: everest
    scopes:
        - openid
        - profile
        - email

How a string is written (v3 ``encode.go`` ``stringv``, ``resolve.go`` ``resolve``, ``emitterc.go``
``yaml_emitter_analyze_scalar`` / ``select_scalar_style`` / the scalar writers):

* plain, unless the text would read back as something else than a string (null ``~``/``null``/empty, ``true``/
  ``false``, YAML 1.1 booleans ``yes``/``on``/``n``..., numbers in Go's ``strconv`` syntax, ``.inf``/``.nan``,
  timestamps ``2006-1-2[(T|t| )15:4:5[.9][Z|±07:00]]``, base-60 floats): then double-quoted;
* a text that cannot be plain (leading/trailing space, an indicator such as ``#``/``&``/``'`` first, ``: `` or
  `` #`` inside, ``---``/``...`` first) is single-quoted (``'`` doubled), or double-quoted when it has characters
  libyaml does not print as they are (controls, tabs, U+FEFF, characters above U+FFFF) or a space next to a line
  break;
* a text with ``\\n`` is a literal block (``|``, ``|-`` or ``|+``, an indentation digit when it starts with a space
  or a line break) unless it cannot be one (trailing space, unprintable characters), then double-quoted.

Approximations: texts with the other line breaks (``\\r``, U+0085, U+2028, U+2029) and no ``\\n`` are always
double-quoted (libyaml may single-quote some), and a literal block that ends with several line breaks is not
followed by the document-end marker libyaml may add. Neither can come from a URL, a client ID or a scope typed at
the prompt.
"""

from __future__ import annotations

import calendar
import math
import re

_NON_STR = {
    'true',
    'True',
    'TRUE',
    'false',
    'False',
    'FALSE',
    '',
    '~',
    'null',
    'Null',
    'NULL',
    '.nan',
    '.NaN',
    '.NAN',
    '.inf',
    '.Inf',
    '.INF',
    '+.inf',
    '+.Inf',
    '+.INF',
    '-.inf',
    '-.Inf',
    '-.INF',
}
_OLD_BOOL = {'y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'}
_FLOAT = re.compile(r'[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z')
_BASE60 = re.compile(r'[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z')
_GO_FLOAT = re.compile(r'[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?\Z')
_TIMESTAMPS = (
    re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[-+]\d{2}:\d{2})\Z'),
    re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})t(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[-+]\d{2}:\d{2})\Z'),
    re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?\Z'),
    re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})\Z'),
)
_BREAKS = '\r\n\x85\u2028\u2029'
_ESCAPES = {
    '\0': '0',
    '\a': 'a',
    '\b': 'b',
    '\t': 't',
    '\n': 'n',
    '\v': 'v',
    '\f': 'f',
    '\r': 'r',
    '\x1b': 'e',
    '"': '"',
    '\\': '\\',
    '\x85': 'N',
    '\xa0': '_',
    '\u2028': 'L',
    '\u2029': 'P',
}
INDENT = 4


def _go_int(text: str) -> bool:
    """strconv.ParseInt(text, 0, 64) or ParseUint(text, 0, 64) succeeds."""
    sign, body = (text[0], text[1:]) if text[:1] in ('+', '-') else ('', text)
    base = 10
    if len(body) > 1 and body[0] == '0':
        base, body = {'x': (16, body[2:]), 'o': (8, body[2:]), 'b': (2, body[2:])}.get(body[1].lower(), (8, body[1:]))
    try:
        value = int(body, base) if body and body.isalnum() and body.isascii() else None
    except ValueError:
        value = None
    if value is None:
        return False
    if sign == '-':
        return value <= 2**63
    return value < (2**63 if sign else 2**64)


def _go_float(text: str) -> bool:
    """strconv.ParseFloat(text, 64) succeeds for the decimal forms YAML uses (an overflow to ±Inf is an error)."""
    if not _GO_FLOAT.match(text):
        return False
    return not math.isinf(float(text))


def _timestamp(text: str) -> bool:
    for pattern in _TIMESTAMPS:
        match = pattern.match(text)
        if not match:
            continue
        year, month, day = (int(match.group(i)) for i in (1, 2, 3))
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year or 2000, month)[1]):
            continue
        if pattern.groups >= 6 and not (int(match.group(4)) < 24 and int(match.group(5)) < 60 and int(match.group(6)) < 60):
            continue
        return True
    return False


def resolves_to_str(text: str) -> bool:
    """v3 ``resolve("", text)`` gives ``!!str`` and the text is no base-60 float nor YAML 1.1 bool (canUsePlain)."""
    if text in _NON_STR or text in _OLD_BOOL:
        return False
    hint = text[:1]
    if hint == '.':
        return not _go_float(text)
    if hint in ('+', '-') or hint.isdigit() and hint.isascii():
        if _timestamp(text):
            return False
        plain = text.replace('_', '')
        if _go_int(plain) or (_FLOAT.match(plain) and _go_float(plain)):
            return False
        return not _BASE60.match(text)
    return True


def _printable(char: str) -> bool:
    code = ord(char)
    return code == 0x0A or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)


def _analyze(text: str) -> dict:  # pylint: disable=too-many-branches
    """libyaml's yaml_emitter_analyze_scalar, block context."""
    if not text:
        return {'plain': True, 'single': True, 'block': False}
    flow = block = text.startswith(('---', '...'))
    special = line_breaks = False
    leading = text[0] == ' ' or text[0] in _BREAKS
    trailing = text[-1] == ' ' or text[-1] in _BREAKS
    break_space = space_break = False
    previous_space = previous_break = False
    preceded_by_blank = True
    for index, char in enumerate(text):
        nxt = text[index + 1] if index + 1 < len(text) else ''
        followed_by_blank = nxt in ('', ' ', '\t')
        if index == 0:
            if char in '#,[]{}&*!|>\'"%@`':
                flow = block = True
            elif char in '?:':
                flow = True
                block = block or followed_by_blank
            elif char == '-' and followed_by_blank:
                flow = block = True
        elif char in ',?[]{}':
            flow = True
        elif char == ':':
            flow = True
            block = block or followed_by_blank
        elif char == '#' and preceded_by_blank:
            flow = block = True  # noqa: F841  (yaml.v3 tracks flow indicators; only block matters here)
        if not _printable(char):
            special = True
        if char == ' ':
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif char in _BREAKS:
            line_breaks = True
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_blank = char in ' \t' or char in _BREAKS
    plain = not (leading or trailing or break_space or space_break or special or line_breaks or block)
    single = not (break_space or space_break or special)
    literal = not (text[-1] == ' ' or space_break or special)
    return {'plain': plain, 'single': single, 'block': literal}


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in ('"', '\\') or char in _BREAKS or not _printable(char) or code == 0xFEFF:
            if char in _ESCAPES:
                out.append('\\' + _ESCAPES[char])
            else:
                out.append(f'\\x{code:02X}' if code <= 0xFF else f'\\u{code:04X}' if code <= 0xFFFF else f'\\U{code:08X}')
        else:
            out.append(char)
    return '"' + ''.join(out) + '"'


def _literal(text: str, indent: int) -> str:
    hints = str(INDENT) if text[0] in ' ' + _BREAKS else ''
    if not text.endswith('\n'):
        hints += '-'
    elif text == '\n' or text.endswith('\n\n'):
        hints += '+'
    lines = text[:-1].split('\n') if text.endswith('\n') else text.split('\n')
    return '|' + hints + ''.join('\n' + (' ' * indent + line if line else '') for line in lines)


def scalar(text: str, indent: int) -> str:
    """How yaml.v3 writes the Go string ``text`` as a block-context value whose block content would sit at ``indent``."""
    analysis = _analyze(text)
    if '\n' in text:
        return _literal(text, indent) if analysis['block'] else _double_quoted(text)
    if not resolves_to_str(text) or any(char in _BREAKS for char in text):
        return _double_quoted(text)
    if analysis['plain']:
        return text
    if analysis['single']:
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


def dump_oidc_config(issuer_url: str, client_id: str, scopes: list) -> str:
    """``yaml.Marshal(common.OIDCConfig{...})`` of yaml.v3."""
    out = f'issuerUrl: {scalar(issuer_url, INDENT)}\nclientId: {scalar(client_id, INDENT)}\n'
    if not scopes:
        return out + 'scopes: []\n'
    out += 'scopes:\n'
    for scope in scopes:
        out += f'{" " * INDENT}- {scalar(scope, 2 * INDENT)}\n'
    return out
