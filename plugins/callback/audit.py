# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: audit
type: notification
short_description: Append an audit trail (JSON lines) of the changes made by this collection
version_added: 0.1.0
author:
  - VirakCloud (@virakcloud)
description:
  - Appends one JSON line to a local file for every task of the C(virakcloud.everest) collection that changed something
    or failed (tasks using other modules, unchanged and skipped tasks are not recorded).
  - Each line holds the time (UTC), the controller user, the AWX/AAP job id and launching user when present, the
    playbook, play, host (the tenant), the task, the resolved module name, the object identity (C(namespace), C(name),
    C(username), C(block)), C(changed), C(failed), C(check_mode), a failure message (truncated), a short diff summary
    (line counts or changed keys, never the diff content) and the masked C(cmd).
  - Secrets never reach the file, module arguments and C(invocation) are never copied, values of keys that look like
    secrets are replaced by C(********), and so is anything after C(-p), C(--password) or C(--new-password) in C(cmd).
    For C(no_log) tasks only the identity, C(changed) and C(failed) are recorded.
  - Every line is written with a single append-only C(write) under an exclusive lock, so concurrent playbook runs and
    forks never interleave or lose lines. Size-based rotation (O(max_bytes), O(backup_count)) happens under the same lock.
requirements:
  - Enable it with C(callbacks_enabled = virakcloud.everest.audit) in C(ansible.cfg) (section C([defaults])) or
    E(ANSIBLE_CALLBACKS_ENABLED=virakcloud.everest.audit).
  - A POSIX controller (uses C(fcntl.flock)).
options:
  path:
    description:
      - The audit file. Its directory is created (mode C(0700)) when missing; the file is created with mode C(0600).
    type: path
    default: ~/.ansible/virakcloud-everest-audit.jsonl
    env:
      - name: EVEREST_AUDIT_LOG
    ini:
      - section: callback_virakcloud.everest.audit
        key: path
  max_bytes:
    description:
      - Rotate the file before a write would make it larger than this many bytes. V(0) disables rotation.
    type: int
    default: 10485760
    env:
      - name: EVEREST_AUDIT_MAX_BYTES
    ini:
      - section: callback_virakcloud.everest.audit
        key: max_bytes
  backup_count:
    description:
      - How many rotated files to keep (C(<path>.1) is the newest). With V(0) the file is truncated when it is full.
    type: int
    default: 5
    env:
      - name: EVEREST_AUDIT_BACKUP_COUNT
    ini:
      - section: callback_virakcloud.everest.audit
        key: backup_count
  log_check_mode:
    description:
      - Also record tasks run in check mode (their C(changed) means "would change"; lines carry C(check_mode=true)).
    type: bool
    default: true
    env:
      - name: EVEREST_AUDIT_LOG_CHECK_MODE
    ini:
      - section: callback_virakcloud.everest.audit
        key: log_check_mode
notes:
  - AWX and the Ansible Automation Platform set E(JOB_ID) in the job environment and the extra variables
    C(awx_job_id) and C(awx_user_name); they are recorded as C(awx_job_id) and C(awx_user).
  - In an execution environment the file lives inside the job container; point O(path) at a mounted volume (AWX
    "Paths to expose to isolated jobs") or ship the lines with a log forwarder to keep them.
"""

import datetime
import difflib
import errno
import getpass
import json
import os
import re

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - Windows controllers are not supported by ansible-core anyway
    fcntl = None
    HAS_FCNTL = False

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.callback import CallbackBase

try:
    from ansible import context as ansible_context
except ImportError:  # pragma: no cover
    ansible_context = None

COLLECTION = 'virakcloud.everest'
MASK = '********'
IDENTITY_KEYS = ('namespace', 'name', 'username', 'block')
# Nouns the modules return their object under; identity is also read from them (never other fields).
RESULT_NOUNS = ('account', 'namespace', 'policy', 'tenant', 'block')
SECRET_KEY_RE = re.compile(r'(pass(word|wd)?|api[_-]?key|token|secret|credential|private[_-]?key|bearer)', re.IGNORECASE)
SECRET_FLAGS = ('-p', '--password', '--new-password', '--token', '--api-key')
# key=value / key: value / "key": "value" where the key looks like a secret
SECRET_ASSIGN_RE = re.compile(
    r'''(?P<key>["']?[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|api[_-]?key|token|secret)[A-Za-z0-9_.-]*["']?\s*[=:]\s*)'''
    r'''(?P<value>"[^"]*"|'[^']*'|[^\s,;}\]]+)''',
    re.IGNORECASE,
)
SECRET_FLAG_RE = re.compile(r'''(?P<flag>(?:^|(?<=\s))(?:-p|--password|--new-password|--token|--api-key)(?:\s+|=))(?P<value>"[^"]*"|'[^']*'|\S+)''')
SAFE_IDENTITY_RE = re.compile(r'^[A-Za-z0-9_.:/@ -]{1,253}$')
MAX_MSG = 500
MAX_ITEMS = 50
MAX_DIFF_DEPTH = 3
_MISSING = object()


def utc_timestamp(now=None):
    """ISO 8601 UTC timestamp with milliseconds and a Z suffix."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    text = now.strftime('%Y-%m-%dT%H:%M:%S')
    return '%s.%03dZ' % (text, now.microsecond // 1000)


def mask_cmd(cmd):
    """Mask the value after every password-like flag of an argv list (defensive: modules already mask)."""
    if isinstance(cmd, str):
        return mask_text(cmd)
    if not isinstance(cmd, (list, tuple)):
        return None
    out = []
    hide_next = False
    for arg in cmd:
        arg = to_text(arg, errors='surrogate_or_strict')
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        flag, sep, dummy = arg.partition('=')
        if flag in SECRET_FLAGS:
            if sep:
                out.append(flag + '=' + MASK)
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(mask_text(arg))
    return out


def put_set(record, **values):
    """Add the values that are set (not empty) to ``record``, in the order given."""
    for key, value in values.items():
        if value:
            record[key] = value


def mask_text(text):
    """Mask secret-looking assignments and flag values inside free text."""
    text = to_text(text, errors='surrogate_or_strict')
    text = SECRET_FLAG_RE.sub(lambda m: m.group('flag') + MASK, text)
    text = SECRET_ASSIGN_RE.sub(lambda m: m.group('key') + MASK, text)
    return text


def scrub(value, key=None):
    """Recursively replace values of secret-looking keys by the mask (defence in depth on the final record)."""
    if key is not None and SECRET_KEY_RE.search(key) and value not in (None, '', [], {}) and not isinstance(value, bool):
        return MASK
    if isinstance(value, dict):
        return dict((k, scrub(v, to_text(k))) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def safe_identity(value):
    """An identity value worth recording: a short plain name (templates, structures and odd text are dropped)."""
    if not isinstance(value, str):
        return None
    value = to_text(value)
    if '{{' in value or '{%' in value or not SAFE_IDENTITY_RE.match(value):
        return None
    return value


def _text_lines(value):
    if value is None:
        return []
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, indent=1, default=str)
    return to_text(value).splitlines()


def _changed_paths(before, after, prefix, found, depth=0):
    """Dotted paths of the keys that differ between two dicts (nested dicts expanded up to MAX_DIFF_DEPTH levels)."""
    for key in set(before) | set(after):
        path = prefix + to_text(key)
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and depth + 1 < MAX_DIFF_DEPTH:
            _changed_paths(old, new, path + '.', found, depth + 1)
        else:
            found.add(path)


def diff_summary(diff):
    """Short, content-free summary of a result's diff: changed keys for dicts, +/- line counts for text."""
    if not diff:
        return None
    diffs = diff if isinstance(diff, list) else [diff]
    keys = set()
    added = removed = 0
    text_seen = False
    for entry in diffs:
        if not isinstance(entry, dict):
            continue
        before, after = entry.get('before'), entry.get('after')
        if isinstance(before, dict) and isinstance(after, dict):
            _changed_paths(before, after, '', keys)
            continue
        if 'prepared' in entry and before is None and after is None:
            text_seen = True
            for line in _text_lines(entry['prepared']):
                if line.startswith('+') and not line.startswith('+++'):
                    added += 1
                elif line.startswith('-') and not line.startswith('---'):
                    removed += 1
            continue
        if before is None and after is None:
            continue
        text_seen = True
        for line in difflib.unified_diff(_text_lines(before), _text_lines(after), lineterm='', n=0):
            if line.startswith('+') and not line.startswith('+++'):
                added += 1
            elif line.startswith('-') and not line.startswith('---'):
                removed += 1
    parts = []
    if keys:
        shown = sorted(keys)
        parts.append('changed keys: %s%s' % (', '.join(shown[:20]), ' (+%d more)' % (len(shown) - 20) if len(shown) > 20 else ''))
    if text_seen:
        parts.append('+%d -%d lines' % (added, removed))
    return '; '.join(parts) or None


def identity_from(args, data):
    """Identity fields from task args (when plain names) and from the result's noun objects."""
    found = {}
    for key in IDENTITY_KEYS:
        value = safe_identity((args or {}).get(key)) if isinstance(args, dict) else None
        if value is not None:
            found[key] = value
    if isinstance(data, dict):
        for key in IDENTITY_KEYS:
            if key not in found:
                value = safe_identity(data.get(key))
                if value is not None:
                    found[key] = value
        for noun in RESULT_NOUNS:
            obj = data.get(noun)
            if not isinstance(obj, dict):
                continue
            meta = obj.get('metadata') if isinstance(obj.get('metadata'), dict) else {}
            for key in IDENTITY_KEYS:
                if key in found:
                    continue
                value = safe_identity(obj.get(key)) or safe_identity(meta.get(key))
                if value is not None:
                    # everest_namespace returns the namespace under `namespace`, named by `name`
                    found[key] = value
    return found


def _get(obj, new, old):
    """Attribute of a TaskResult on ansible-core 2.19+ (`task`) and older (`_task`)."""
    try:
        value = getattr(obj, new)
    except AttributeError:
        value = None
    if value is None:
        value = getattr(obj, old, None)
    return value


class AuditWriter(object):
    """Append-only JSON lines writer with size rotation, safe across processes (flock on `<path>.lock`)."""

    def __init__(self, path, max_bytes=10485760, backup_count=5):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.max_bytes = max(int(max_bytes or 0), 0)
        self.backup_count = max(int(backup_count or 0), 0)
        self.lock_path = self.path + '.lock'

    def _ensure_dir(self):
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o700)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise

    def _rotate(self):
        if self.backup_count <= 0:
            fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
            os.close(fd)
            return
        for index in range(self.backup_count - 1, 0, -1):
            src = '%s.%d' % (self.path, index)
            if os.path.exists(src):
                os.rename(src, '%s.%d' % (self.path, index + 1))
        if os.path.exists(self.path):
            os.rename(self.path, self.path + '.1')

    def write(self, record):
        line = to_bytes(json.dumps(record, sort_keys=True, separators=(',', ':'), default=to_text) + '\n', errors='surrogate_or_strict')
        self._ensure_dir()
        lock_fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            if HAS_FCNTL:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                if self.max_bytes:
                    try:
                        size = os.stat(self.path).st_size
                    except OSError:
                        size = 0
                    if size and size + len(line) > self.max_bytes:
                        self._rotate()
                fd = os.open(self.path, os.O_APPEND | os.O_CREAT | os.O_WRONLY, 0o600)
                try:
                    written = os.write(fd, line)
                    while written < len(line):  # short writes are rare on regular files; finish the line
                        written += os.write(fd, line[written:])
                finally:
                    os.close(fd)
            finally:
                if HAS_FCNTL:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
        finally:
            os.close(lock_fd)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'virakcloud.everest.audit'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self.writer = None
        self.log_check_mode = True
        self.playbook = None
        self.play = None
        self.extra_vars = {}
        self.user = self._controller_user()
        self._warned = False
        self._module_names = self._own_module_names()

    @staticmethod
    def _controller_user():
        try:
            return getpass.getuser()
        except Exception:  # pylint: disable=broad-except
            return None

    @staticmethod
    def _own_module_names():
        modules_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'modules')
        try:
            return frozenset(os.path.splitext(name)[0] for name in os.listdir(modules_dir) if name.endswith('.py') and not name.startswith('_'))
        except OSError:
            return frozenset()

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.writer = AuditWriter(self.get_option('path'), self.get_option('max_bytes'), self.get_option('backup_count'))
        self.log_check_mode = bool(self.get_option('log_check_mode'))

    # ---- playbook context ---------------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(to_text(getattr(playbook, '_file_name', '') or '')) or None

    def v2_playbook_on_play_start(self, play):
        self.play = to_text(play.get_name()).strip() or None
        try:
            manager = play.get_variable_manager()
            self.extra_vars = dict(manager.extra_vars) if manager is not None else {}
        except Exception:  # pylint: disable=broad-except
            self.extra_vars = {}

    # ---- results --------------------------------------------------------------------------------------------------

    def v2_runner_on_ok(self, result):
        self._handle(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._handle(result, failed=True, ignored=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._handle(result, failed=True, unreachable=True)

    def module_of(self, task):
        """The FQCN of the task's module when it belongs to this collection, else None."""
        action = to_text(getattr(task, 'action', '') or '')
        if action.startswith(COLLECTION + '.'):
            return action
        resolved = None
        if action and '{{' not in action:
            try:
                resolved = task.resolved_action
            except Exception:  # pylint: disable=broad-except
                resolved = None
        for candidate in (resolved, action):
            if candidate and to_text(candidate).startswith(COLLECTION + '.'):
                return to_text(candidate)
        # short name with `collections: [virakcloud.everest]` on a core that could not resolve it for us
        collections = getattr(task, 'collections', None) or []
        if action and '.' not in action and action in self._module_names and COLLECTION in collections:
            return '%s.%s' % (COLLECTION, action)
        return None

    def _awx_job_id(self):
        for value in (os.environ.get('JOB_ID'), os.environ.get('AWX_JOB_ID'), self.extra_vars.get('awx_job_id'), self.extra_vars.get('tower_job_id')):
            if value not in (None, ''):
                return to_text(value)
        return None

    def _check_mode(self, task):
        value = getattr(task, 'check_mode', None)
        if isinstance(value, bool):
            return value
        if ansible_context is not None:
            try:
                return bool(ansible_context.CLIARGS.get('check', False))
            except Exception:  # pylint: disable=broad-except
                return False
        return False

    def build_record(self, result, failed=False, ignored=False, unreachable=False):
        """The audit record for a task result, or None when the task is not recorded."""
        data = _get(result, 'result', '_result') or {}
        changed = bool(data.get('changed')) or any(isinstance(item, dict) and item.get('changed') for item in data.get('results') or [])
        if not (changed or failed):  # cheap exit first: most results of a converged run are unchanged
            return None
        task = _get(result, 'task', '_task')
        module = self.module_of(task)
        if module is None:
            return None
        check_mode = self._check_mode(task)
        if check_mode and not self.log_check_mode:
            return None
        no_log = bool(getattr(task, 'no_log', False) is True or data.get('_ansible_no_log') or 'censored' in data)
        host = _get(result, 'host', '_host')
        args = getattr(task, 'args', None)
        record = {
            'ts': utc_timestamp(),
            'user': self.user,
            'awx_job_id': self._awx_job_id(),
            'awx_user': safe_identity(self.extra_vars.get('awx_user_name') or self.extra_vars.get('tower_user_name')),
            'playbook': self.playbook,
            'play': self.play,
            'host': to_text(host.get_name()) if host is not None else None,
            'task': to_text(task.get_name()) if task is not None else None,
            'module': module,
            'changed': changed,
            'failed': bool(failed),
            'check_mode': check_mode,
            'no_log': no_log,
        }
        if ignored:
            record['ignored'] = True
        if unreachable:
            record['unreachable'] = True
        record.update(identity_from(args, None if no_log else data))
        if not no_log:
            if failed and data.get('msg'):
                msg = mask_text(to_text(data.get('msg')))
                record['msg'] = msg if len(msg) <= MAX_MSG else msg[:MAX_MSG] + '...'
            put_set(record, diff=diff_summary(data.get('diff')), cmd=mask_cmd(data.get('cmd')), items=self._items(data))
        return scrub(record)

    @staticmethod
    def _items(data):
        """Identity and status of each changed or failed item of a loop or of a module's batch form."""
        items = []
        for item in data.get('results') or []:
            if not isinstance(item, dict) or item.get('_ansible_no_log') or 'censored' in item:
                continue
            if not (item.get('changed') or item.get('failed')):
                continue
            entry = identity_from(None, item)
            entry['changed'] = bool(item.get('changed'))
            entry['failed'] = bool(item.get('failed'))
            put_set(entry, cmd=mask_cmd(item.get('cmd')), diff=diff_summary(item.get('diff')))
            items.append(entry)
            if len(items) >= MAX_ITEMS:
                break
        return items

    def _handle(self, result, failed=False, ignored=False, unreachable=False):
        try:
            record = self.build_record(result, failed=failed, ignored=ignored, unreachable=unreachable)
            if record is None:
                return
            if self.writer is None:
                self.set_options()
            self.writer.write(record)
        except Exception as exc:  # pylint: disable=broad-except
            # auditing must never break a run, but it must not fail silently either
            if not self._warned:
                self._warned = True
                self._display.warning('virakcloud.everest.audit: could not write the audit trail: %s' % to_text(exc))
