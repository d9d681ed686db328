"""users.yaml codec of the everestctl emulator: the fast paths (libyaml parsing, short-cut scalar analysis) give the
same bytes and the same accounts as the pure-Python yaml.v2 emulation they replaced.

``account_maps`` generates account maps from a fixed seed, with user names, capabilities, times and hashes chosen to
hit every branch of the scalar analysis (YAML indicators, bool/null/number/timestamp look-alikes, non-ASCII,
control characters, invalid UTF-8) and of yaml.v2's key order (digit runs, leading zeros). The digests in
``fixtures/everestctl/users-yaml-v2-sha256.json`` were recorded from the pure-Python emitter before the change.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import random

import pytest
import yaml

from everest_sandbox.everestctl import yamlv2

GOLDEN = pathlib.Path(__file__).parent / 'fixtures' / 'everestctl' / 'users-yaml-v2-sha256.json'

SPECIAL = [
    'yes',
    'No',
    'ON',
    'off',
    'y',
    'n',
    'null',
    'Null',
    '~',
    '',
    '123',
    '007',
    '0x1F',
    '0o17',
    '0b101',
    '1e5',
    '-1.5',
    '.5',
    '1_000',
    '1:30',
    '190:20:30.15',
    '2026-01-01',
    '2026-01-01T10:00:00Z',
    '.inf',
    '-.Inf',
    '.NaN',
    '<<',
    '-',
    '- a',
    '-a',
    ': x',
    ':x',
    'a: b',
    'a:b',
    'a:',
    'a #b',
    'a#b',
    '#x',
    ' lead',
    'trail ',
    'two  spaces',
    'é',
    'ünïcödé',
    '日本語',
    'tab\tx',
    'nl\nx',
    '\r',
    'bell\x07',
    '\ufeffbom',
    '\x85nel',
    '\u2028ls',
    'nb\xa0sp',
    "quo'te",
    'dq"x',
    'back\\slash',
    '---',
    '--- x',
    '...',
    '...x',
    '@at',
    '`b',
    '%p',
    '!bang',
    '&amp',
    '*star',
    '[x',
    ']x',
    '{y',
    '}y',
    '|',
    '>',
    ',c',
    'c,',
    '?',
    '?x',
    '? x',
    'true',
    'FALSE',
    'x' * 130,
    '\U0001f600',
    '\x00nul',
    '\x1b[0m',
    'a\\nb',
    '"',
    "'",
    'ok',
    'True',
    'on',
    'Y',
]
NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'
DIGIT_NAMES = [
    'u7',
    'u007',
    'u10',
    'u9',
    'u09',
    'u0',
    'u00',
    '0',
    '00',
    '0a',
    'a0b01',
    'a0b1',
    'a00',
    'a0',
    'A',
    'a',
    '_',
    '_a',
    'Z9',
    'z10',
    'user9',
    'user10',
    'user010',
    'x1y2',
    'x01y02',
    'x1y02',
    'B2',
    'b2',
]
MTIMES = ['', '2026-01-01T10:00:00+01:00', '2026-11-23T11:00:00Z', '2025-02-28T23:59:59-05:30', 'garbage']


def _name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return ''.join(rng.choice(NAME_ALPHABET) for _i in range(rng.randint(3, 12)))
    if roll < 0.6:
        return rng.choice(DIGIT_NAMES)
    if roll < 0.7:
        return f'user_{rng.randint(0, 999)}'
    return rng.choice(SPECIAL)


def _hash(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.6:
        return bytes(rng.getrandbits(8) for _i in range(32))
    if roll < 0.75:
        return ''.join(rng.choice(NAME_ALPHABET + '@*#$%^&+=!_-') for _i in range(rng.randint(6, 64))).encode()
    if roll < 0.95:
        return rng.choice(SPECIAL).encode('utf-8')
    return bytes(rng.getrandbits(7) for _i in range(32))  # ASCII incl. control bytes: valid UTF-8, escaped


def _capabilities(rng: random.Random) -> list:
    roll = rng.random()
    if roll < 0.5:
        return ['login']
    if roll < 0.7:
        return ['login', 'apiKey']
    if roll < 0.8:
        return []
    return [rng.choice(SPECIAL + ['login', 'apiKey']) for _i in range(rng.randint(1, 3))]


def account_maps(seed: int, count: int) -> list:
    """``count`` account maps ({name: {enabled, capabilities, passwordMtime, passwordHash}}) from ``seed``."""
    rng = random.Random(seed)
    maps = []
    for _i in range(count):
        users = {}
        for _i in range(rng.choice((0, 1, 2, 3, 5, 8, 20, 60))):
            users[_name(rng)] = {
                'enabled': rng.random() < 0.8,
                'capabilities': _capabilities(rng),
                'passwordMtime': rng.choice(MTIMES) if rng.random() < 0.9 else rng.choice(SPECIAL),
                'passwordHash': _hash(rng),
            }
        maps.append(users)
    return maps


def _golden():
    return json.loads(GOLDEN.read_text(encoding='utf-8'))


def _maps():
    golden = _golden()
    return account_maps(golden['seed'], golden['count'])


def test_generator_covers_the_interesting_shapes():
    """The generated maps exercise every output form (else the byte comparison proves little)."""
    text = ''.join(yamlv2.dump_users(users) for users in _maps())
    for form in (
        '!!binary ',
        'capabilities: []\n',
        '\\x',
        '\\u',
        '\\e',
        '\\N',
        '"yes"',
        '"123"',
        '"~"',
        '""',
        '- apiKey\n',
        '{}\n',
        'passwordHash: "true"\n',
        'ünïcödé',
        '日本語',
    ):
        assert form in text, form


def test_dump_is_byte_identical_to_the_pure_python_emitter():
    golden = _golden()
    maps = _maps()
    assert len(maps) == len(golden['sha256'])
    for index, users in enumerate(maps):
        text = yamlv2.dump_users(users)
        assert text == yamlv2.dump_users(users, fast=False), index
        assert hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest() == golden['sha256'][index], index


def test_scalar_short_cut_agrees_with_the_general_path():
    rng = random.Random(4711)
    samples = list(SPECIAL) + DIGIT_NAMES
    samples += [''.join(rng.choice(NAME_ALPHABET + ' -:#.') for _i in range(rng.randint(1, 8))) for _i in range(2000)]
    for text in samples:
        assert yamlv2.scalar(text) == yamlv2.scalar(text, fast=False), text


@pytest.mark.skipif(not yaml.__with_libyaml__, reason='PyYAML without libyaml: FastLoader is the pure parser')
def test_libyaml_loader_reads_what_the_pure_loader_reads():
    assert yamlv2.FastLoader.__mro__[1] is yaml.CSafeLoader
    for users in _maps():
        text = yamlv2.dump_users(users)
        fast = yamlv2.load_users(text)
        assert fast == yamlv2.load_users(text, loader=yamlv2.PureLoader)
        assert fast == users


@pytest.mark.parametrize(
    'text',
    [
        'admin:\n  passwordHash: 12345\n  enabled: true\n  capabilities: [login]\n',  # the chart's layout
        'a:\n  enabled: yes\n  capabilities: [login, apiKey]\n  passwordMtime: 2026-01-01T10:00:00Z\n  passwordHash: ~\n',
        'b: {enabled: "on", capabilities: [], passwordMtime: 0x1F, passwordHash: 1.5}\n',
        "c:\n  enabled: false\n  passwordHash: 'single '' quoted'\nd: null\n",
        'e:\n  passwordHash: |\n    block\n    text\n',
        '',
        '{}\n',
    ],
)
def test_loaders_agree_on_hand_written_layouts(text):
    assert yamlv2.load_users(text) == yamlv2.load_users(text, loader=yamlv2.PureLoader)
