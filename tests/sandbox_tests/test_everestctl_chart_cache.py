"""The Helm chart cache of ``namespaces add/update``: ``<user cache dir>/everestctl/everest-db-namespace-<v>.tgz``,
downloaded when missing, and the detection of two processes writing it at once.

The concurrent-writers test holds both downloads open with the ``EVEREST_SANDBOX_CHART_GATE`` hook until both
writers' markers exist, so it does not depend on timing.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
import time

import pytest

from everest_sandbox import EVEREST_VERSION
from everest_sandbox.everestctl import chartcache
from everest_sandbox.everestctl.output import Failure
from everest_sandbox.everestctl.testing import ectl, get, spawn

OPS = ('--skip-wizard', '--operator.mysql', '--operator.postgresql=false', '--operator.mongodb=false')
CHART = f'everest-db-namespace-{EVEREST_VERSION}.tgz'
WAIT_S = 30.0


def _markers(directory):
    return sorted(path.name for path in directory.glob(CHART + chartcache.MARKER + '*')) if directory.exists() else []


def _wait_for(cond, what):
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, f'no {what} within {WAIT_S} s'
        time.sleep(0.02)


def test_first_add_downloads_then_hits(clean_sandbox):
    sb = clean_sandbox
    path = sb.chart_cache_dir / CHART
    assert not path.exists()
    assert ectl(sb, 'namespaces', 'add', 'ns-a', *OPS).returncode == 0
    assert path.read_bytes() == chartcache.chart_archive(EVEREST_VERSION)
    assert ectl(sb, 'namespaces', 'add', 'ns-b,ns-c', *OPS).returncode == 0
    assert ectl(sb, 'namespaces', 'update', 'ns-b', *OPS[1:]).returncode == 0
    first, second, update = sb.calls()
    assert (first['chart_cache'], second['chart_cache'], update['chart_cache']) == ('downloaded', 'hit', 'hit')
    assert not any('chart_cache_race' in call for call in sb.calls())
    assert _markers(sb.chart_cache_dir) == [] and sorted(os.listdir(sb.chart_cache_dir)) == [CHART]


def test_one_run_that_downloads_reports_downloaded(clean_sandbox):
    """The cache is consulted per namespace; the first namespace downloads, the second finds the file."""
    assert ectl(clean_sandbox, 'namespaces', 'add', 'ns-a,ns-b', *OPS).returncode == 0
    assert clean_sandbox.calls()[0]['chart_cache'] == 'downloaded'


def test_chart_archive_is_a_deterministic_chart():
    data = chartcache.chart_archive('1.2.3')
    assert data == chartcache.chart_archive('1.2.3') != chartcache.chart_archive('1.2.4')
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        assert tar.getnames() == ['everest-db-namespace/Chart.yaml']
        assert b'version: 1.2.3\n' in tar.extractfile('everest-db-namespace/Chart.yaml').read()


def test_concurrent_downloads_are_detected(clean_sandbox, tmp_path):
    sb = clean_sandbox
    gate = tmp_path / 'gate'
    env = {chartcache.GATE_ENV: str(gate)}
    procs = [spawn(sb, 'namespaces', 'add', name, *OPS, extra_env=env) for name in ('ns-a', 'ns-b')]
    try:
        _wait_for(lambda: len(_markers(sb.chart_cache_dir)) == 2, 'two writers in the cache directory')
        gate.write_text('', encoding='utf-8')
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out.startswith('\u2705  Provisioning database namespace')
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    calls = sb.calls()
    assert [call['chart_cache'] for call in calls] == ['downloaded', 'downloaded']
    assert [call.get('chart_cache_race') for call in calls] == [True, True]
    assert (sb.chart_cache_dir / CHART).read_bytes() == chartcache.chart_archive(EVEREST_VERSION)
    assert os.listdir(sb.chart_cache_dir) == [CHART], 'no marker or flag left behind'


def test_parallel_adds_with_a_warm_cache_never_write_it(clean_sandbox):
    sb = clean_sandbox
    assert ectl(sb, 'namespaces', 'add', 'warm', *OPS).returncode == 0
    procs = [spawn(sb, 'namespaces', 'add', name, *OPS) for name in ('ns-a', 'ns-b', 'ns-c')]
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    adds = sb.calls()[1:]
    assert [call['chart_cache'] for call in adds] == ['hit'] * 3
    assert not any(call.get('chart_cache_race') for call in sb.calls())


def test_stale_marker_of_a_dead_process_is_no_race(clean_sandbox):
    sb = clean_sandbox
    proc = subprocess.Popen(['true'])  # pylint: disable=consider-using-with
    proc.wait()  # its pid now belongs to no process
    sb.chart_cache_dir.mkdir(parents=True)
    stale = sb.chart_cache_dir / f'{CHART}{chartcache.MARKER}{proc.pid}-deadbeef'
    stale.write_text('', encoding='utf-8')
    assert ectl(sb, 'namespaces', 'add', 'ns-a', *OPS).returncode == 0
    assert 'chart_cache_race' not in sb.calls()[0] and not stale.exists()


def test_live_foreign_writer_is_a_race(clean_sandbox):
    """A marker of a live process (this test's) stands for a download in progress elsewhere; the emulator reports
    the race and tells that writer with a flag next to its marker."""
    sb = clean_sandbox
    sb.chart_cache_dir.mkdir(parents=True)
    (sb.chart_cache_dir / f'{CHART}{chartcache.MARKER}{os.getpid()}-cafe').write_text('', encoding='utf-8')
    assert ectl(sb, 'namespaces', 'add', 'ns-a', *OPS).returncode == 0
    assert sb.calls()[0]['chart_cache_race'] is True
    assert (sb.chart_cache_dir / f'{CHART}{chartcache.SEEN}{os.getpid()}-cafe').exists()


def _tgz(name: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w') as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b'x: 1'[:3]))
    return gzip.compress(raw.getvalue(), mtime=0)


@pytest.mark.parametrize(
    'content, cause',
    [
        (b'not a gzip file', 'gzip: invalid header'),
        (gzip.compress(b'', mtime=0), 'no files in chart archive'),
        (gzip.compress(b'garbage' * 100, mtime=0), 'archive/tar: invalid tar header'),
        (_tgz('everest-db-namespace/values.yaml'), 'Chart.yaml file is missing'),
    ],
    ids=['not-gzip', 'empty', 'not-tar', 'no-chart-yaml'],
)  # stable ids: pytest-xdist workers must collect the same names
def test_broken_cached_chart_fails_the_step(clean_sandbox, content, cause):
    sb = clean_sandbox
    sb.chart_cache_dir.mkdir(parents=True)
    (sb.chart_cache_dir / CHART).write_bytes(content)
    res = ectl(sb, 'namespaces', 'add', 'ns-a', *OPS)
    assert res.returncode == 1
    assert res.stdout == "\u274c  Provisioning database namespace 'ns-a'\n"
    assert res.stderr == f'\u274c could not initialize Helm installer: failed to resolve Helm chart: {cause}\n\n'
    assert get(sb, '/api/v1/namespaces/ns-a') is None


def test_chart_dir_bypasses_the_cache(clean_sandbox, tmp_path):
    sb = clean_sandbox
    assert ectl(sb, 'namespaces', 'add', 'ns-a', *OPS, '--chart-dir', str(tmp_path)).returncode == 0
    assert not sb.chart_cache_dir.exists() and 'chart_cache' not in sb.calls()[0]


def test_reset_empties_the_cache(clean_sandbox):
    assert ectl(clean_sandbox, 'namespaces', 'add', 'ns-a', *OPS).returncode == 0
    clean_sandbox.reset()
    assert not clean_sandbox.chart_cache_dir.exists()


@pytest.mark.parametrize(
    'environ, expected',
    [
        ({'XDG_CACHE_HOME': '/x/cache', 'HOME': '/home/u'}, '/x/cache'),
        ({'XDG_CACHE_HOME': '', 'HOME': '/home/u'}, '/home/u/.cache'),
        ({'HOME': '/home/u', chartcache.CACHE_DIR_ENV: '/sandbox/cache'}, '/sandbox/cache'),
    ],
)
def test_user_cache_dir(environ, expected):
    assert chartcache.user_cache_dir(environ) == expected


@pytest.mark.parametrize(
    'environ, cause',
    [
        ({'XDG_CACHE_HOME': 'relative/cache', 'HOME': '/home/u'}, 'path in $XDG_CACHE_HOME is relative'),
        ({}, 'neither $XDG_CACHE_HOME nor $HOME are defined'),
    ],
)
def test_user_cache_dir_errors(environ, cause):
    with pytest.raises(Failure) as err:
        chartcache.user_cache_dir(environ)
    assert err.value.msg == chartcache.RESOLVE + cause


def test_real_user_cache_dir_when_not_overridden(clean_sandbox, tmp_path):
    """Without the sandbox override the emulator uses Go's os.UserCacheDir(): here $XDG_CACHE_HOME."""
    env = {chartcache.CACHE_DIR_ENV: '', 'XDG_CACHE_HOME': str(tmp_path / 'xdg')}
    assert ectl(clean_sandbox, 'namespaces', 'add', 'ns-a', *OPS, extra_env=env).returncode == 0
    assert (tmp_path / 'xdg' / 'everestctl' / CHART).is_file()
    assert not clean_sandbox.chart_cache_dir.exists()
