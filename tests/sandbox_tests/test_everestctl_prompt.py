"""Interactive prompts of the everestctl emulator on a pseudo-terminal (reference §1.5, §2.1, §4.2).

With a terminal the real CLI blocks until the user answers: bubbletea reads stdin when it is a terminal, else
``/dev/tty`` (the controlling terminal) even when stdin is redirected. Without either it fails at once (the tests
of that case are in test_everestctl_accounts.py / test_everestctl_namespaces.py). Every wait here is bounded by
``testing.PTY_TIMEOUT``; a process still running at the end of a test is killed.
"""

from __future__ import annotations

import hashlib

import pytest

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.everestctl.testing import OLM, Pty, get, names, system_uid, users


@pytest.fixture
def pty_run(clean_sandbox):
    started = []

    def _run(*args, **kwargs) -> Pty:
        term = Pty(clean_sandbox, *args, **kwargs)
        started.append(term)
        return term

    yield _run
    for term in started:
        term.close()


def test_create_prompts_on_the_terminal_and_waits(pty_run, clean_sandbox):
    term = pty_run('accounts', 'create')
    assert term.read_until('❓ Provide username: ') == '❓ Provide username: '
    assert term.waiting(), 'the prompt waits for the answer'
    term.type('carol\r')
    assert term.read_until('❓ Provide password: ') == 'carol\r\n❓ Provide password: '
    assert term.waiting()
    term.type('Secret-1x\r')
    code, rest = term.finish()
    assert code == 0
    assert rest == "*********\r\n✅ User 'carol' has been created successfully\r\n\r\n"  # the password is masked
    assert 'Secret-1x' not in rest
    salt = system_uid(clean_sandbox).encode()
    assert users(clean_sandbox)['carol']['passwordHash'] == hashlib.pbkdf2_hmac('sha256', b'Secret-1x', salt, 4096, 32)


def test_prompt_uses_dev_tty_when_stdin_is_redirected(pty_run, clean_sandbox):
    """Reference §1.5: with a controlling terminal the CLI blocks even if stdin is not a terminal."""
    term = pty_run('accounts', 'set-password', '-u', 'admin', stdin_tty=False, ctty=True)
    term.read_until('❓ Provide a new password: ')
    assert term.waiting()
    term.type('Secret-2x\r')
    assert term.read_until('❓ Confirm a new password: ').endswith('*********\r\n❓ Confirm a new password: ')
    term.type('Secret-2x\r')
    code, rest = term.finish()
    assert code == 0, rest
    assert rest.endswith("✅ Password for user 'admin' has been set successfully\r\n\r\n")
    salt = system_uid(clean_sandbox).encode()
    assert users(clean_sandbox)['admin']['passwordHash'] == hashlib.pbkdf2_hmac('sha256', b'Secret-2x', salt, 4096, 32)


def test_password_confirmation_mismatch(pty_run, clean_sandbox):
    term = pty_run('accounts', 'set-password', '-u', 'admin')
    term.read_until('❓ Provide a new password: ')
    term.type('Secret-3x\r')
    term.read_until('❓ Confirm a new password: ')
    term.type('Secret-4x\r')
    code, rest = term.finish()
    assert code == 1
    assert rest.endswith('❌ passwords do not match\r\n\r\n')
    assert users(clean_sandbox)['admin']['passwordHash'] == DEFAULT_ADMIN_PASSWORD


def test_backspace_and_esc(pty_run, clean_sandbox):
    term = pty_run('accounts', 'delete')
    term.read_until('❓ Provide username: ')
    term.type('adminx\x7f')
    assert term.read_until('\b \b') == 'adminx\b \b'
    term.type('\x1b')  # Esc
    code, rest = term.finish()
    assert code == 1 and rest.endswith('❌ user interrupted\r\n\r\n')
    assert 'admin' in users(clean_sandbox)


def test_typed_answer_is_validated(pty_run):
    term = pty_run('accounts', 'delete')
    term.read_until('❓ Provide username: ')
    term.type('a-b\r')
    code, rest = term.finish()
    assert code == 1
    assert rest.endswith('❌ username may contain only letters, numbers, underscores, and must be at least 3 characters long\r\n\r\n')


def test_operators_multi_select(pty_run, clean_sandbox):
    """namespaces add without operator flags and without --skip-wizard asks which operators to install (all
    pre-selected); here MongoDB is unselected."""
    term = pty_run('namespaces', 'add', 'ns-p')
    shown = term.read_until('enter: confirm)')
    assert shown.startswith('Which operators do you want to install?\r\n> [x] MySQL\r\n  [x] MongoDB\r\n  [x] PostgreSQL\r\n')
    assert term.waiting()
    assert get(clean_sandbox, '/api/v1/namespaces/ns-p') is None
    term.type('\x1b[B')  # down to MongoDB
    term.read_until('> [x] MongoDB')
    term.type(' ')  # unselect it
    term.read_until('> [ ] MongoDB')
    term.type('\r')
    code, rest = term.finish()
    assert code == 0, rest
    assert "✅  Provisioning database namespace 'ns-p'" in rest
    subs = names(get(clean_sandbox, f'{OLM}/namespaces/ns-p/subscriptions'))
    assert subs == ['percona-postgresql-operator', 'percona-xtradb-cluster-operator']


def test_operators_none_selected(pty_run, clean_sandbox):
    term = pty_run('namespaces', 'add', 'ns-p')
    term.read_until('enter: confirm)')
    for key in (' ', 'j', ' ', 'j', ' '):
        term.type(key)
    term.read_until('> [ ] PostgreSQL')
    term.type('\r')
    code, rest = term.finish()
    assert code == 1
    assert rest.endswith('❌ no operators selected for installation. Minimum one operator must be selected\r\n\r\n')
    assert get(clean_sandbox, '/api/v1/namespaces/ns-p') is None
