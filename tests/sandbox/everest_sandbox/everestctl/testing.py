"""Test helpers for the everestctl emulator (used by tests/sandbox_tests/test_everestctl_*.py): run it as a subprocess."""

from __future__ import annotations

import base64
import fcntl
import gzip
import json
import os
import select
import subprocess
import termios
import time

import yaml

from .. import latency

SECRET = '/api/v1/namespaces/everest-system/secrets/everest-accounts'
CONFLICT = (
    'Operation cannot be fulfilled on secrets "everest-accounts": the object has been modified; please apply your changes to the latest version and try again'
)
OLM = '/apis/operators.coreos.com/v1alpha1'
EVEREST = '/apis/everest.percona.com/v1alpha1'
PTY_TIMEOUT = 20.0


def env_for(sandbox, extra: dict | None = None) -> dict:
    """The environment of one emulator run: this process's, without latency-model variables a developer may have
    exported (the fixture's sandbox runs with the model off), plus the sandbox's and ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in latency.env_names()}
    env.update(sandbox.env)
    env.pop('KUBECONFIG', None)
    env['EVEREST_SANDBOX_DETERMINISTIC'] = '1'
    env['LC_ALL'] = 'C.UTF-8'
    env.update(extra or {})
    return env


def ectl(sandbox, *args, kubeconfig=True, extra_env=None, **popen) -> subprocess.CompletedProcess:
    """Run the everestctl wrapper without a controlling terminal, stdin closed."""
    argv = [sandbox.everestctl]
    if kubeconfig:
        argv += ['--kubeconfig', sandbox.kubeconfig]
    argv += list(args)
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env_for(sandbox, extra_env),
        timeout=60,
        check=False,
        **popen,
    )


def spawn(sandbox, *args, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sandbox.everestctl, '--kubeconfig', sandbox.kubeconfig, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env=env_for(sandbox, extra_env),
    )


def get(sandbox, path: str):
    status, body = sandbox.request('GET', path)
    return body if status == 200 else None


def must(sandbox, method: str, path: str, body=None, headers=None):
    status, data = sandbox.request(method, path, body, headers)
    assert 200 <= status < 300, (method, path, status, data)
    return data


def accounts_secret(sandbox) -> tuple[dict, str]:
    secret = get(sandbox, SECRET)
    return secret, base64.b64decode(secret['data']['users.yaml']).decode('utf-8')


def users(sandbox) -> dict:
    return yaml.safe_load(accounts_secret(sandbox)[1]) or {}


def system_uid(sandbox) -> str:
    return get(sandbox, '/api/v1/namespaces/everest-system')['metadata']['uid']


def release_of(secret: dict) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret['data']['release']))))


def names(items_doc) -> list[str]:
    return sorted(i['metadata']['name'] for i in (items_doc or {}).get('items', []))


# call-log analysis -------------------------------------------------------------------------------------------


def spans(calls: list) -> list:
    """(mono_start, mono_end) of each call-log record, in start order."""
    return sorted((call['mono_start'], call['mono_end']) for call in calls)


def overlapping(first: dict, second: dict) -> bool:
    """Whether two runs were in progress at the same time (by the host's monotonic clock)."""
    return first['mono_start'] < second['mono_end'] and second['mono_start'] < first['mono_end']


def max_concurrency(calls: list) -> int:
    """The largest number of runs in progress at one moment."""
    events = sorted([(call['mono_start'], 1) for call in calls] + [(call['mono_end'], -1) for call in calls], key=lambda event: (event[0], event[1]))
    running = peak = 0
    for _stamp, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


# the emulator on a pseudo-terminal ---------------------------------------------------------------------------


class Pty:
    """The emulator on a pty: ``stdin_tty`` puts stdin on it; ``ctty`` makes it the controlling terminal."""

    def __init__(self, sandbox, *args, stdin_tty=True, ctty=False):
        self.master, slave = os.openpty()

        def _take_ctty():  # runs in the child after setsid(): the pty becomes its controlling terminal
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        try:
            # pylint: disable-next=subprocess-popen-preexec-fn,consider-using-with
            self.proc = subprocess.Popen(
                [sandbox.everestctl, '--kubeconfig', sandbox.kubeconfig, *args],
                stdin=slave if stdin_tty else subprocess.DEVNULL,
                stdout=slave,
                stderr=slave,
                env=env_for(sandbox),
                start_new_session=True,
                pass_fds=(slave,),
                preexec_fn=_take_ctty if ctty else None,
            )
        finally:
            os.close(slave)
        self.seen = b''

    def read_until(self, text: str) -> str:
        """Everything the program wrote up to and including ``text`` (the test fails after PTY_TIMEOUT s)."""
        want = text.encode()
        deadline = time.monotonic() + PTY_TIMEOUT
        while want not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f'no {text!r} within {PTY_TIMEOUT} s; got {self.seen.decode("utf-8", "replace")!r}'
            if select.select([self.master], [], [], min(left, 0.2))[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the program exited and closed the pty
                    chunk = b''
                if not chunk:
                    assert want in self.seen, f'exited before {text!r}; got {self.seen.decode("utf-8", "replace")!r}'
                self.seen += chunk
        out, _sep, _rest = self.seen.partition(want)
        consumed = out + want
        self.seen = self.seen[len(consumed) :]
        return consumed.decode('utf-8', 'replace')

    def type(self, data: str):
        os.write(self.master, data.encode())

    def waiting(self) -> bool:
        return self.proc.poll() is None

    def finish(self) -> tuple[int, str]:
        """Exit code and the rest of the output."""
        code = self.proc.wait(timeout=PTY_TIMEOUT)
        rest = self.seen
        while True:
            try:
                ready = select.select([self.master], [], [], 0.2)[0]
                chunk = os.read(self.master, 4096) if ready else b''
            except OSError:
                chunk = b''
            if not chunk:
                break
            rest += chunk
        self.seen = b''
        return code, rest.decode('utf-8', 'replace')

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=PTY_TIMEOUT)
        os.close(self.master)
