# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe everestctl runner.

* argv is built only from the declared command shapes in ``SHAPES`` (an allow-list); every value
  is validated before use; there is no shell and no string joining.
* ``--kubeconfig`` is always passed (everestctl reads exactly one file, reference §1.2/§8.13).
* The process runs with stdin closed, in a new session (no controlling terminal, so a prompt
  fails at once instead of blocking, reference §1.5/§8.2), with ``LC_ALL=C`` and a timeout.
* It never outlives the module: on Linux the kernel kills it when the module process dies (``PR_SET_PDEATHSIG``,
  set between fork and exec, which covers SIGKILL of the module); ``terminate_all()`` (the module's SIGTERM/SIGINT/
  SIGHUP handler) kills every running child's process group. Its password is in its argv, and an account write that
  goes on after the module lost its Lease could overlap another writer.
* Secret values are replaced by ``********`` in everything returned, raised or logged.
* Known stderr texts (reference §2-§5) map to typed ``EverestctlError`` kinds; anything else keeps
  ``rc``/``stdout``/``stderr``/``cmd``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import selectors
import signal
import subprocess
import threading
import time

try:
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # resolved before any fork: the child only makes the call
except (ImportError, OSError, AttributeError):  # not Linux (or no libc symbol): children rely on terminate_all()
    _PRCTL = None
PR_SET_PDEATHSIG = 1

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError, ValidationError
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

MASK = "********"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\r")

# Ordered: the first pattern found in stderr decides the kind.
ERROR_KINDS = (
    ("Operation cannot be fulfilled", "conflict"),
    ("the object has been modified", "conflict"),
    ("user already exists", "already_exists"),
    ("namespace already exists and is managed by Everest", "already_exists"),
    ("namespace already exists. HINT", "namespace_exists_unmanaged"),
    ("account not found", "not_found"),
    ("namespace is not managed by Everest", "not_managed"),
    ("namespace does not exist", "namespace_missing"),
    ("cannot remove namespace with running database clusters", "has_clusters"),
    ("namespace is reserved for Everest internals", "reserved"),
    ("is not RFC 1035 compatible", "invalid_name"),
    ("username may contain only", "invalid_username"),
    ("password may contain only", "invalid_password"),
    ("no operators selected", "no_operators"),
    ("everest is not installed in the cluster", "not_installed"),
    ("operation not supported for this version of Everest", "unsupported_version"),
    ("could not open a new TTY", "no_tty"),
    ("interactive mode is disabled", "no_tty"),
    ("policy syntax error", "policy_invalid"),
    ("could not read kubeconfig file", "kubeconfig"),
    ("failed to connect with OIDC provider", "oidc_unreachable"),  # before "connection refused": its cause may say so
    ("connection refused", "unreachable"),
)

HINTS = {
    "conflict": "another writer changed the object at the same time; re-run (the modules retry this automatically)",
    "namespace_exists_unmanaged": "set take_ownership: true to let Everest adopt the existing namespace",
    "not_installed": "install Everest in the cluster (everest-system/everest-server) or point kubeconfig/context at the right cluster",
    "unsupported_version": "namespace management needs Everest >= 1.4.0",
    "no_tty": "everestctl asked for a value interactively; this is a bug in the argv the collection built, please report it",
    "kubeconfig": "set the kubeconfig option (or K8S_AUTH_KUBECONFIG) to one readable file",
    "unreachable": "check that the Kubernetes API server is reachable from the controller",
    "oidc_unreachable": "everestctl could not read the issuer's discovery document from this host; nothing was changed",
}


def _bool(value):
    return "true" if value else "false"


def _check(checker, value, what):
    problem = checker(value)
    if problem:
        raise ValidationError(
            "%s %r rejected before running everestctl: %s" % (what, value, problem)
            if what != "password"
            else "password rejected before running everestctl: %s" % problem
        )


def _check_can_arg(value, what):
    if not isinstance(value, str) or not _validation.RBAC_CAN_ARG_RE.match(value):
        raise ValidationError("%s %r is not a single policy term (no spaces, commas, quotes, '#' or leading '-')" % (what, value))


def _shape_accounts_create(v):
    _check(_validation.check_username, v["username"], "username")
    _check(_validation.check_password, v["password"], "password")
    return ["accounts", "create", "-u", v["username"], "-p", v["password"]], [v["password"]]


def _shape_accounts_set_password(v):
    _check(_validation.check_username, v["username"], "username")
    _check(_validation.check_password, v["password"], "password")
    return ["accounts", "set-password", "-u", v["username"], "--new-password", v["password"]], [v["password"]]


def _shape_accounts_delete(v):
    _check(_validation.check_username, v["username"], "username")
    return ["accounts", "delete", "-u", v["username"]], []


def _operator_flags(v):
    if not (v["mysql"] or v["postgresql"] or v["mongodb"]):
        raise ValidationError("namespace %r: at least one operator (mysql, postgresql, mongodb) must be enabled" % v["name"])
    return ["--operator.mysql=" + _bool(v["mysql"]), "--operator.postgresql=" + _bool(v["postgresql"]), "--operator.mongodb=" + _bool(v["mongodb"])]


def _shape_namespaces_add(v):
    _check(_validation.check_namespace, v["name"], "namespace")
    argv = ["namespaces", "add", v["name"], "--skip-wizard"] + _operator_flags(v)
    if v.get("take_ownership"):
        argv.append("--take-ownership")
    return argv, []


def _shape_namespaces_update(v):
    _check(_validation.check_namespace, v["name"], "namespace")
    return ["namespaces", "update", v["name"]] + _operator_flags(v), []


def _shape_namespaces_remove(v):
    _check(_validation.check_namespace, v["name"], "namespace")
    argv = ["namespaces", "remove", v["name"]]
    if v.get("keep_namespace"):
        argv.append("--keep-namespace")
    if v.get("force"):
        argv.append("--force")
    return argv, []


def _policy_file_arg(v):
    policy_file = v.get("policy_file")
    if policy_file is None:
        return []
    if not isinstance(policy_file, str) or not policy_file or "\n" in policy_file:
        raise ValidationError("policy_file %r is not a usable path" % (policy_file,))
    return ["--policy-file=" + policy_file]


def _shape_rbac_validate(v):
    return ["settings", "rbac", "validate"] + _policy_file_arg(v), []


def _shape_rbac_can(v):
    if v["action"] not in _constants.RBAC_ACTIONS:
        raise ValidationError("action %r is not one of %s" % (v["action"], ", ".join(_constants.RBAC_ACTIONS)))
    _check_can_arg(v["subject"], "subject")
    _check_can_arg(v["resource"], "resource")
    _check_can_arg(v["object"], "object")
    return ["settings", "rbac", "can", v["subject"], v["action"], v["resource"], v["object"]] + _policy_file_arg(v), []


def _shape_oidc_configure(v):
    """reference §9.5: every value a prompt would ask for is given, as --flag=value (no value can pass for a flag)."""
    for what in ("issuer_url", "client_id"):
        value = v[what]
        if not isinstance(value, str) or not value or any(char.isspace() for char in value):
            raise ValidationError("%s %r must be a non-empty value without white space" % (what, value))
    scopes = v["scopes"]
    if not isinstance(scopes, (list, tuple)) or "openid" not in scopes:
        raise ValidationError("scopes %r must be a list containing 'openid'" % (scopes,))
    for scope in scopes:
        if not isinstance(scope, str) or not scope or "," in scope or any(char.isspace() for char in scope):
            raise ValidationError("scope %r must be a non-empty value without a comma or white space" % (scope,))
    return ["settings", "oidc", "configure", "--issuer-url=" + v["issuer_url"], "--client-id=" + v["client_id"], "--scopes=" + ",".join(scopes)], []


def _shape_version(v):
    return ["version"] + (["--client-only"] if v.get("client_only", True) else []), []


# name -> (builder, required value names, optional value names, needs a cluster)
SHAPES = {
    "accounts_create": (_shape_accounts_create, ("username", "password"), (), True),
    "accounts_set_password": (_shape_accounts_set_password, ("username", "password"), (), True),
    "accounts_delete": (_shape_accounts_delete, ("username",), (), True),
    "namespaces_add": (_shape_namespaces_add, ("name", "mysql", "postgresql", "mongodb"), ("take_ownership",), True),
    "namespaces_update": (_shape_namespaces_update, ("name", "mysql", "postgresql", "mongodb"), (), True),
    "namespaces_remove": (_shape_namespaces_remove, ("name",), ("keep_namespace", "force"), True),
    "rbac_validate": (_shape_rbac_validate, (), ("policy_file",), True),
    "rbac_can": (_shape_rbac_can, ("subject", "action", "resource", "object"), ("policy_file",), True),
    "oidc_configure": (_shape_oidc_configure, ("issuer_url", "client_id", "scopes"), (), True),
    "version": (_shape_version, (), ("client_only",), True),
}


_RUNNING_LOCK = threading.Lock()
_RUNNING = set()


def _die_with_parent(parent_pid):
    """Runs in the child between fork and exec: SIGKILL when the parent dies (Linux), and exit at once if it already
    did (the fork may have raced with the parent's death)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def terminate_all(grace=2.0):
    """Kill every running everestctl (SIGTERM to its process group, SIGKILL after ``grace`` seconds)."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
    return len(procs)


def strip_ansi(text):
    return ANSI_RE.sub("", text or "")


def mask(text, secrets):
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def classify(stderr):
    for needle, kind in ERROR_KINDS:
        if needle in stderr:
            return kind
    return "unknown"


def error_text(stderr):
    """The meaningful part of everestctl's stderr: without ❌ markers, usage text and blank lines."""
    lines = []
    for line in strip_ansi(stderr).splitlines():
        line = line.strip()
        if not line or line.startswith("Usage:"):
            if line.startswith("Usage:"):
                break
            continue
        if line.startswith("\u274c"):
            line = line[1:].strip()
        lines.append(line)
    return " / ".join(lines)


def _forget(proc):
    with _RUNNING_LOCK:
        _RUNNING.discard(proc)


class CommandResult:
    def __init__(self, rc, stdout, stderr, cmd, duration):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.cmd = cmd
        self.duration = duration

    def as_dict(self):
        return {"rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "cmd": self.cmd}


class Running:
    """One everestctl process started by ``Everestctl.start``; ``finish`` turns its output into the result."""

    def __init__(self, runner, proc, masked, secrets, timeout, started):
        self.runner = runner
        self.proc = proc
        self.cmd = masked
        self.secrets = secrets
        self.timeout = timeout
        self.started = started
        self.deadline = started + timeout

    def kill(self):
        """SIGKILL to its whole process group (everestctl and anything it started)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def finish(self, out, err, timed_out=False, check=True):
        """The ``CommandResult`` of the ended process (``out``/``err``: its raw output), or the ``EverestctlError``
        for a timeout or (with ``check``) a non-zero exit. Forgets the process (``terminate_all`` no longer sees it)."""
        if self.proc.returncode is None:
            self.proc.wait()
        _forget(self.proc)
        self.runner.calls.append(self.cmd)
        stdout = mask(strip_ansi(out.decode("utf-8", "replace")), self.secrets)
        stderr = mask(strip_ansi(err.decode("utf-8", "replace")), self.secrets)
        if timed_out:
            raise EverestctlError(
                "timed out after %d s while running '%s'; raise the timeout option if the cluster is slow (namespace operations "
                "wait for operator installation)" % (self.timeout, " ".join(self.cmd[1:3])),
                kind="timeout",
                rc=124,
                stdout=stdout,
                stderr=stderr,
                cmd=self.cmd,
            )
        returncode = self.proc.returncode
        result = CommandResult(returncode, stdout, stderr, self.cmd, time.time() - self.started)
        if check and returncode != 0:
            kind = classify(stderr)
            text = error_text(stderr) or error_text(stdout) or "no error text"
            msg = "everestctl %s failed (rc=%d): %s" % (" ".join(self.cmd[1:3]), returncode, text)
            if kind in HINTS:
                msg += "; " + HINTS[kind]
            raise EverestctlError(msg, kind=kind, rc=returncode, stdout=stdout, stderr=stderr, cmd=self.cmd)
        return result


class _Slot:
    """A command of a ``Pool`` in progress: its process and the output read so far."""

    def __init__(self, key, running):
        self.key = key
        self.running = running
        self.output = {running.proc.stdout.fileno(): bytearray(), running.proc.stderr.fileno(): bytearray()}
        self.open = set(self.output)

    def read(self, fd, blocking=True):
        """Read what is there; False once the pipe is at its end."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return not blocking
        except OSError:
            data = b""
        if data:
            self.output[fd].extend(data)
            return True
        self.open.discard(fd)
        return False

    def result(self, timed_out=False):
        proc = self.running.proc
        out, err = bytes(self.output[proc.stdout.fileno()]), bytes(self.output[proc.stderr.fileno()])
        proc.stdout.close()
        proc.stderr.close()
        try:
            return self.running.finish(out, err, timed_out=timed_out)
        except EverestError as exc:
            return exc


class Pool:
    """Up to ``size`` everestctl commands at once (``size`` may change between calls), for batches of independent
    objects (namespaces).

    No helper thread: every process is started by ``submit``/``next_done`` in the calling thread (the module's main
    thread, which ``PR_SET_PDEATHSIG`` needs), and their pipes are read there through one selector; each command keeps
    its own timeout. Every process is in the module's registry, so ``terminate_all`` (the signal handler) stops them.

        pool = runner.pool(4)
        pool.submit("ns-a", "namespaces_add", timeout=600, name="ns-a", ...)
        while pool.busy():
            key, outcome = pool.next_done()   # a CommandResult, or the EverestError of that command
    """

    def __init__(self, runner, size, poll_interval=0.2):
        self.runner = runner
        self.size = max(1, int(size))
        self.poll_interval = poll_interval
        self.peak = 0  # the most commands that ran at once
        self._queue = []  # (key, shape, timeout, values) not started yet, in submission order
        self._slots = []
        self._done = []  # (key, outcome) ended but not handed out yet
        self._selector = selectors.DefaultSelector()

    def submit(self, key, shape, timeout=None, **values):
        """Queue a command; it starts as soon as a slot is free (maybe at once)."""
        self._queue.append((key, shape, timeout, values))
        self._fill()

    def busy(self):
        return bool(self._queue or self._slots or self._done)

    def _fill(self):
        while self._queue and len(self._slots) < self.size:
            key, shape, timeout, values = self._queue.pop(0)
            try:
                running = self.runner.start(shape, timeout=timeout, **values)
            except EverestError as exc:  # values refused, binary missing: the outcome of that command
                self._done.append((key, exc))
                continue
            slot = _Slot(key, running)
            for fd in slot.open:
                self._selector.register(fd, selectors.EVENT_READ, slot)
            self._slots.append(slot)
            self.peak = max(self.peak, len(self._slots))

    def _close(self, slot, timed_out=False):
        for fd in slot.output:
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        self._slots.remove(slot)
        self._done.append((slot.key, slot.result(timed_out=timed_out)))

    def _kill(self, slot):
        """Timeout: kill the process group, keep what it wrote, report the timeout."""
        slot.running.kill()
        slot.running.proc.wait()
        for fd in list(slot.open):
            os.set_blocking(fd, False)
            while slot.read(fd, blocking=False) and fd in slot.open:
                pass
        self._close(slot, timed_out=True)

    def next_done(self):
        """Wait for the next command to end (starting queued ones as slots free): ``(key, CommandResult or
        EverestError)``. Only while ``busy()``."""
        while not self._done:
            if self._slots:
                # a process whose pipes are closed is about to exit: look again soon rather than after poll_interval
                wait = min(self.poll_interval, 0.01) if any(not slot.open for slot in self._slots) else self.poll_interval
                for selected, _events in self._selector.select(wait):
                    slot = selected.data
                    if not slot.read(selected.fd):
                        self._selector.unregister(selected.fd)
                now = time.time()
                for slot in list(self._slots):
                    if not slot.open and slot.running.proc.poll() is not None:
                        self._close(slot)
                    elif now > slot.running.deadline:
                        self._kill(slot)
            self._fill()
        return self._done.pop(0)


class Everestctl:
    """Runs declared everestctl command shapes. ``kubeconfig`` is a path or a callable returning one."""

    def __init__(self, binary, kubeconfig=None, timeout=900, secrets=(), env=None, pass_fds=()):
        self.binary = binary
        self._kubeconfig = kubeconfig
        self._pass_fds = pass_fds
        self.timeout = timeout
        self.secrets = [s for s in secrets if s]
        self.env = env
        self.calls = []  # masked argv of every command run (for results and tests)

    def build(self, shape, values):
        """Return (argv, masked argv, secrets) for a shape; validates every value first."""
        if shape not in SHAPES:
            raise ValidationError("unknown everestctl command shape %r" % shape)
        builder, required, optional, needs_cluster = SHAPES[shape]
        unknown = set(values) - set(required) - set(optional)
        missing = [name for name in required if values.get(name) is None]
        if unknown or missing:
            raise ValidationError("everestctl %s: unexpected values %s, missing values %s" % (shape, sorted(unknown), missing))
        args, secrets = builder(values)
        argv = [self.binary] + args
        if needs_cluster and self._kubeconfig is not None:
            path = self._kubeconfig() if callable(self._kubeconfig) else self._kubeconfig
            argv += ["--kubeconfig", path]
        secrets = list(secrets) + self.secrets
        masked = [MASK if a in secrets else mask(a, secrets) for a in argv]
        return argv, masked, secrets

    def preview(self, shape, **values):
        """The masked argv that ``run`` would execute (for check mode)."""
        return self.build(shape, values)[1]

    def start(self, shape, timeout=None, **values):
        """Start one command and return its ``Running`` process at once (``run`` waits for it, ``Pool`` runs several).

        Call it from the thread that is to own the child (the module's main thread): the kernel ties
        ``PR_SET_PDEATHSIG`` to the thread that forked, so a child forked by a short-lived thread would be killed when
        that thread ends."""
        argv, masked, secrets = self.build(shape, values)
        timeout = timeout or self.timeout
        env = dict(os.environ)
        env.update(self.env or {})
        env.update({"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "NO_COLOR": "1", "TERM": "dumb"})
        for name in ("VERBOSE", "JSON", "PRETTY"):  # reference §1.2: a non-boolean value breaks envconfig
            env.pop(name, None)
        started = time.time()
        fds = self._pass_fds() if callable(self._pass_fds) else self._pass_fds
        parent = os.getpid()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(fds or ()),
                preexec_fn=lambda: _die_with_parent(parent),
            )
        except OSError as exc:
            raise EverestctlError(
                "cannot run everestctl (%s): %s; check everestctl_path / EVERESTCTL_PATH" % (self.binary, exc), kind="not_runnable", cmd=masked
            )
        with _RUNNING_LOCK:
            _RUNNING.add(proc)
        return Running(self, proc, masked, secrets, timeout, started)

    def run(self, shape, timeout=None, check=True, **values):
        """Run one command to its end: its ``CommandResult``, or ``EverestctlError`` (non-zero exit with ``check``, timeout)."""
        running = self.start(shape, timeout=timeout, **values)
        try:
            out, err = running.proc.communicate(timeout=running.timeout)
        except subprocess.TimeoutExpired:
            running.kill()
            out, err = running.proc.communicate()
            return running.finish(out, err, timed_out=True, check=check)
        return running.finish(out, err, check=check)

    def pool(self, size):
        """A ``Pool`` running up to ``size`` of this runner's commands at once."""
        return Pool(self, size)

    def version(self):
        """Client version string (e.g. 'v1.10.0') from `everestctl version --client-only`."""
        result = self.run("version", client_only=True)
        for line in result.stdout.splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
        return None
