"""Test helpers for the everestctl emulator (used by tests/sandbox_tests/test_everestctl_*.py): run it as a subprocess."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess

import yaml

from .. import latency

SECRET = '/api/v1/namespaces/everest-system/secrets/everest-accounts'
CONFLICT = ('Operation cannot be fulfilled on secrets "everest-accounts": the object has been modified; '
            'please apply your changes to the latest version and try again')
OLM = '/apis/operators.coreos.com/v1alpha1'
EVEREST = '/apis/everest.percona.com/v1alpha1'


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
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, start_new_session=True,
                          env=env_for(sandbox, extra_env), timeout=60, check=False, **popen)


def spawn(sandbox, *args, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen([sandbox.everestctl, '--kubeconfig', sandbox.kubeconfig, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True,
                            env=env_for(sandbox, extra_env))


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
    events = sorted([(call['mono_start'], 1) for call in calls] + [(call['mono_end'], -1) for call in calls],
                    key=lambda event: (event[0], event[1]))
    running = peak = 0
    for _stamp, delta in events:
        running += delta
        peak = max(peak, running)
    return peak
