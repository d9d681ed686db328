"""The sandbox latency model (everest_sandbox.latency) and the call log's timing fields.

No timing assertions: the tests check what the model resolves to, what the call log records as slept
(``latency_s`` is the model's number, not a measurement) and the order/overlap of runs as the call log reports it.
Scales keep every run short.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from everest_sandbox import latency
from everest_sandbox.everestctl import cli
from everest_sandbox.everestctl.testing import ectl, max_concurrency, overlapping, spawn
from everest_sandbox.launcher import SANDBOX_ROOT, read_env, raw_request

ALL_OPS = ('--skip-wizard', '--operator.mysql', '--operator.postgresql', '--operator.mongodb')
MYSQL_ONLY = ('--skip-wizard', '--operator.mysql', '--operator.postgresql=false', '--operator.mongodb=false')
REALISTIC = latency.PROFILES['realistic']


# the model -------------------------------------------------------------------------------------------------


def test_off_by_default_and_profiles():
    assert latency.from_env({}).values == dict.fromkeys(latency.KNOBS, 0.0)
    assert not latency.from_env({}).enabled
    model = latency.from_env({latency.PROFILE_ENV: 'realistic'})
    assert model.values == REALISTIC and model.enabled
    assert model.ns_add(3) == REALISTIC['ns_add_base_s'] + 3 * REALISTIC['ns_add_per_operator_s']
    assert model.ns_update(1) == REALISTIC['ns_update_base_s'] + REALISTIC['ns_update_per_operator_s']


def test_scale_and_knob_overrides():
    env = {latency.PROFILE_ENV: 'realistic', latency.SCALE_ENV: '0.01', 'EVEREST_SANDBOX_LATENCY_NS_ADD_BASE_S': '2'}
    model = latency.from_env(env)
    assert model.seconds('ns_add_base_s') == pytest.approx(0.02)  # the override is scaled too
    assert model.seconds('ns_remove_s') == pytest.approx(REALISTIC['ns_remove_s'] * 0.01)
    assert model.describe()['scale'] == 0.01 and model.describe()['profile'] == 'realistic'
    assert latency.env_name('kube_api_s') == 'EVEREST_SANDBOX_LATENCY_KUBE_API_S'


@pytest.mark.parametrize('suffix, text', [('json', '{"ns_add_base_s": 4, "accounts_s": 0.5}'), ('yaml', 'ns_add_base_s: 4\naccounts_s: 0.5\n')])
def test_profile_file(tmp_path, suffix, text):
    path = tmp_path / f'profile.{suffix}'
    path.write_text(text, encoding='utf-8')
    model = latency.from_env({latency.PROFILE_ENV: str(path)})
    assert model.values == dict(dict.fromkeys(latency.KNOBS, 0.0), ns_add_base_s=4.0, accounts_s=0.5)


@pytest.mark.parametrize(
    'env, message',
    [
        ({latency.SCALE_ENV: 'fast'}, "EVEREST_SANDBOX_LATENCY_SCALE: expected a number >= 0, got 'fast'"),
        ({'EVEREST_SANDBOX_LATENCY_ACCOUNTS_S': '-1'}, "EVEREST_SANDBOX_LATENCY_ACCOUNTS_S: expected a number >= 0, got '-1'"),
        ({'EVEREST_SANDBOX_LATENCY_KUBE_API_S': 'nan'}, "EVEREST_SANDBOX_LATENCY_KUBE_API_S: expected a number >= 0, got 'nan'"),
        ({latency.PROFILE_ENV: '/nonexistent/profile.yaml'}, "cannot read profile file '/nonexistent/profile.yaml'"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(latency.LatencyError, match=message.replace('(', r'\(')):
        latency.from_env(env)


def test_profile_file_rejects_unknown_knobs_and_bad_values(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text('ns_add_s: 1\n', encoding='utf-8')
    with pytest.raises(latency.LatencyError, match=r"unknown knobs \['ns_add_s'\]"):
        latency.from_env({latency.PROFILE_ENV: str(path)})
    path.write_text('accounts_s: true\n', encoding='utf-8')
    with pytest.raises(latency.LatencyError, match='accounts_s: expected a number'):
        latency.from_env({latency.PROFILE_ENV: str(path)})


def test_passthrough_keeps_what_is_set_and_makes_a_profile_path_absolute(tmp_path, monkeypatch):
    (tmp_path / 'p.json').write_text('{"accounts_s": 1}', encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    env = {latency.PROFILE_ENV: 'p.json', latency.SCALE_ENV: ' 0.5 ', 'EVEREST_SANDBOX_LATENCY_NS_REMOVE_S': '', 'OTHER': 'x'}
    assert latency.passthrough(env) == {latency.PROFILE_ENV: str(tmp_path / 'p.json'), latency.SCALE_ENV: '0.5'}
    assert latency.passthrough({latency.PROFILE_ENV: 'realistic'}) == {latency.PROFILE_ENV: 'realistic'}


# the call log ----------------------------------------------------------------------------------------------


def test_call_log_start_end_fields(monkeypatch, tmp_path):
    log = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('EVEREST_SANDBOX_CALL_LOG', str(log))
    cli.main(['version', '--client-only'], stdout=io.StringIO(), stderr=io.StringIO())
    cli.main(['-k', '/nonexistent/kubeconfig', 'accounts', 'list'], stdout=io.StringIO(), stderr=io.StringIO())
    first, second = [json.loads(line) for line in log.read_text(encoding='utf-8').splitlines()]
    assert list(first) == ['ts', 'argv', 'rc', 'duration_s', 'start', 'end', 'mono_start', 'mono_end', 'pid', 'latency_s']
    for rec in (first, second):
        assert rec['start'] == rec['ts'] and rec['end'] >= rec['start']
        assert rec['mono_end'] >= rec['mono_start']
        assert rec['duration_s'] == round(rec['mono_end'] - rec['mono_start'], 6)
        assert rec['pid'] == os.getpid() and rec['latency_s'] == 0.0
    assert (first['rc'], second['rc']) == (0, 1)
    assert first['mono_end'] <= second['mono_start'], 'the log orders runs by the host-wide monotonic clock'


def test_latency_recorded_per_command(clean_sandbox):
    sb = clean_sandbox
    scale = {latency.PROFILE_ENV: 'realistic', latency.SCALE_ENV: '0.001'}
    assert ectl(sb, 'namespaces', 'add', 'ns-a', *MYSQL_ONLY, extra_env=scale).returncode == 0
    assert ectl(sb, 'namespaces', 'update', 'ns-a', *ALL_OPS[1:], extra_env=scale).returncode == 0
    assert ectl(sb, 'namespaces', 'remove', 'ns-a', extra_env=scale).returncode == 0
    assert ectl(sb, 'accounts', 'create', '-u', 'carol', '-p', 'secret1', extra_env=scale).returncode == 0
    assert ectl(sb, 'accounts', 'list').returncode == 0
    slept = [call['latency_s'] for call in sb.calls()]
    add = REALISTIC['chart_download_s'] + REALISTIC['ns_add_base_s'] + REALISTIC['ns_add_per_operator_s']  # empty cache
    update = REALISTIC['ns_update_base_s'] + 2 * REALISTIC['ns_update_per_operator_s']  # two operators added, cache hit
    expected = [add / 1000, update / 1000, REALISTIC['ns_remove_s'] / 1000, REALISTIC['accounts_s'] / 1000, 0.0]
    assert slept == pytest.approx(expected)


def test_ns_delay_adds_to_the_model(clean_sandbox):
    sb = clean_sandbox
    env = {'EVEREST_SANDBOX_NS_DELAY_S': '0.05', 'EVEREST_SANDBOX_LATENCY_NS_ADD_BASE_S': '0.02'}
    assert ectl(sb, 'namespaces', 'add', 'ns-a,ns-b', *MYSQL_ONLY, extra_env=env).returncode == 0
    assert sb.calls()[0]['latency_s'] == pytest.approx(2 * (0.05 + 0.02))


def test_bad_latency_variable_fails_the_command(clean_sandbox):
    res = ectl(clean_sandbox, 'namespaces', 'add', 'ns-a', *ALL_OPS, extra_env={latency.SCALE_ENV: 'x'})
    assert res.returncode == 1
    assert res.stderr == "\u274c sandbox latency model: EVEREST_SANDBOX_LATENCY_SCALE: expected a number >= 0, got 'x'\n\n"
    assert ectl(clean_sandbox, 'version', '--client-only', extra_env={latency.SCALE_ENV: 'x'}).returncode == 0


def test_parallel_adds_overlap_and_stay_within_a_bound(clean_sandbox):
    """Two waves of two parallel adds (1 operator each, realistic profile scaled to ~1.8 s): the call log shows the
    runs of a wave overlapping, and never more than two runs at once."""
    sb = clean_sandbox
    assert ectl(sb, 'namespaces', 'add', 'warm', *MYSQL_ONLY).returncode == 0  # fills the chart cache
    env = {latency.PROFILE_ENV: 'realistic', latency.SCALE_ENV: '0.04'}
    for wave in (('ns-a', 'ns-b'), ('ns-c', 'ns-d')):
        procs = [spawn(sb, 'namespaces', 'add', name, *MYSQL_ONLY, extra_env=env) for name in wave]
        for proc in procs:
            proc.communicate(timeout=60)
            assert proc.returncode == 0
    adds = [call for call in sb.calls() if call['argv'][4] != 'warm']
    assert len(adds) == 4 and all(call['chart_cache'] == 'hit' for call in adds)
    by_name = {call['argv'][4]: call for call in adds}
    assert overlapping(by_name['ns-a'], by_name['ns-b']) and overlapping(by_name['ns-c'], by_name['ns-d'])
    assert not overlapping(by_name['ns-a'], by_name['ns-c'])
    assert max_concurrency(adds) == 2


def test_max_concurrency_helper():
    calls = [{'mono_start': 0, 'mono_end': 2}, {'mono_start': 1, 'mono_end': 3}, {'mono_start': 2, 'mono_end': 4}, {'mono_start': 5, 'mono_end': 6}]
    assert max_concurrency(calls) == 2  # a run ending at t=2 is not counted with one starting at t=2
    assert overlapping(calls[0], calls[1]) and not overlapping(calls[0], calls[2])


# the launcher passes the model on -----------------------------------------------------------------------------


def test_launcher_passes_the_model_to_env_wrapper_and_api(tmp_path):
    state = tmp_path / 'state'
    env = {key: value for key, value in os.environ.items() if key not in latency.env_names()}
    env.update({'PYTHONPATH': str(SANDBOX_ROOT), latency.PROFILE_ENV: 'realistic', latency.SCALE_ENV: '0.01', 'EVEREST_SANDBOX_LATENCY_ACCOUNTS_S': '2'})

    def launcher(*args):
        return subprocess.run(
            [sys.executable, '-m', 'everest_sandbox', *args, '--dir', str(state)], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    started = launcher('start')
    try:
        assert started.returncode == 0, started.stderr
        exported = read_env(state)
        assert {key: exported[key] for key in exported if key.startswith('EVEREST_SANDBOX_LATENCY_')} == {
            latency.PROFILE_ENV: 'realistic',
            latency.SCALE_ENV: '0.01',
            'EVEREST_SANDBOX_LATENCY_ACCOUNTS_S': '2',
        }
        wrapper = (state / 'bin' / 'everestctl').read_text(encoding='utf-8')
        assert "os.environ.setdefault('EVEREST_SANDBOX_LATENCY_SCALE', '0.01')" in wrapper
        assert f"os.environ.setdefault('EVEREST_SANDBOX_USER_CACHE_DIR', {str(state / 'cache')!r})" in wrapper
        url, token = exported['EVEREST_SANDBOX_URL'], exported['EVEREST_SANDBOX_TOKEN']
        assert raw_request(url, token, 'GET', '/_sandbox/faults')[1]['latency_ms'] == pytest.approx(0.15)
        raw_request(url, token, 'POST', '/_sandbox/reset')
        assert raw_request(url, token, 'GET', '/_sandbox/faults')[1]['latency_ms'] == pytest.approx(0.15)
        # the wrapper applies the model even when the caller's environment has none of it
        clean = {key: value for key, value in os.environ.items() if key not in latency.env_names()}
        clean['EVEREST_SANDBOX_CALL_LOG'] = str(state / 'calls.jsonl')
        run = subprocess.run(
            [str(state / 'bin' / 'everestctl'), '--kubeconfig', str(state / 'kubeconfig'), 'accounts', 'list'],
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads((state / 'calls.jsonl').read_text(encoding='utf-8'))['latency_s'] == pytest.approx(0.02)
    finally:
        launcher('stop')


def test_launcher_rejects_a_bad_model(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SANDBOX_ROOT), EVEREST_SANDBOX_LATENCY_PROFILE=str(tmp_path / 'missing.yaml'))
    proc = subprocess.run(
        [sys.executable, '-m', 'everest_sandbox', 'start', '--dir', str(tmp_path / 'state')], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2 and 'cannot read profile file' in proc.stderr
    assert not (tmp_path / 'state' / 'pid').exists()
