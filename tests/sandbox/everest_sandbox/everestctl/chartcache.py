"""The Helm chart cache of ``namespaces add/update``.

What the real CLI does (``pkg/cli/helm/installer.go`` ``newChartFromRemoteWithCache``, once per namespace because
``Installer.Init`` runs in each namespace's step): directory ``os.UserCacheDir()`` + ``/everestctl`` (created with
``MkdirAll``), file ``everest-db-namespace-<version>.tgz``; when ``os.Stat`` says it does not exist, ``helm pull``
downloads the repository index and the chart into that directory, and Helm writes the file with
``fileutil.AtomicWriteFile`` (a temporary file renamed into place), so a reader never sees half a file but nothing
stops two processes from downloading at the same time: both write, the last rename wins. The file is then loaded
(``loader.LoadArchive``). Errors reach the user as
``could not initialize Helm installer: failed to resolve Helm chart: <cause>``. With ``--chart-dir`` the
cache is not used.

``os.UserCacheDir()`` on Linux (Go 1.25): ``$XDG_CACHE_HOME`` if set (an error if it is relative), else
``$HOME/.cache``, else an error. ``EVEREST_SANDBOX_USER_CACHE_DIR`` replaces it in the sandbox: the launcher's
``bin/everestctl`` sets it to ``DIR/cache``, so the emulator never puts its fake chart where a real everestctl
would read it.

The emulator keeps the check, the atomic write and the lack of locking; a miss "downloads" (the latency model's
``chart_download_s``) a small deterministic chart archive. To let tests prove the cache is never written by two
processes at once, each downloader creates an exclusive marker ``<file>.writer-<pid>-<random>`` next to the file
for the time of its download and looks for other live writers' markers when it starts and when it finishes; seeing
one, it notes ``chart_cache_race: true`` in its call-log line (and still succeeds, as the real CLI would) and leaves
a ``<file>.seen-<pid>-<random>`` flag by which the other writer learns it too. So when two downloads overlap, both
runs report the race (the later one always sees the earlier one's marker). Markers of dead processes are ignored
and removed.
Test hook: with ``EVEREST_SANDBOX_CHART_GATE=<path>`` a download waits until ``<path>`` exists before it writes, so
a test can hold two downloads open together without depending on timing.
"""

from __future__ import annotations

import gzip
import io
import os
import secrets
import tarfile
import time
from pathlib import Path

from . import calllog, timing
from .output import Failure, go_errno_text

CHART = 'everest-db-namespace'
CACHE_DIR_ENV = 'EVEREST_SANDBOX_USER_CACHE_DIR'
GATE_ENV = 'EVEREST_SANDBOX_CHART_GATE'
GATE_TIMEOUT_S = 60.0
MARKER = '.writer-'
SEEN = '.seen-'
RESOLVE = 'could not initialize Helm installer: failed to resolve Helm chart: '


def user_cache_dir(environ=None) -> str:
    """Go's ``os.UserCacheDir()`` on Linux, or the sandbox's override."""
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_DIR_ENV):
        return environ[CACHE_DIR_ENV]
    xdg = environ.get('XDG_CACHE_HOME', '')
    if xdg:
        if not xdg.startswith('/'):
            raise Failure(f'{RESOLVE}path in $XDG_CACHE_HOME is relative')
        return xdg
    home = environ.get('HOME', '')
    if not home:
        raise Failure(f'{RESOLVE}neither $XDG_CACHE_HOME nor $HOME are defined')
    return home + '/.cache'


def chart_path(version: str) -> Path:
    return Path(user_cache_dir()) / 'everestctl' / f'{CHART}-{version}.tgz'


def chart_archive(version: str) -> bytes:
    """A minimal chart archive (``everest-db-namespace/Chart.yaml``), byte-for-byte the same for a version."""
    meta = (
        f'apiVersion: v2\nname: {CHART}\nversion: {version}\nappVersion: {version}\ndescription: A Helm chart for installing DB operators managed by Everest\n'
    ).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(f'{CHART}/Chart.yaml')
        info.size, info.mtime, info.mode = len(meta), 0, 0o644
        tar.addfile(info, io.BytesIO(meta))
    return gzip.compress(raw.getvalue(), mtime=0)


def _check_archive(path: Path):
    """What loader.LoadArchive rejects, in its words, for the cases a pre-filled cache can get wrong."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError):
        raise Failure(f'{RESOLVE}gzip: invalid header') from None
    if not data.strip(b'\0'):
        raise Failure(f'{RESOLVE}no files in chart archive')
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode='r:') as tar:
            names = tar.getnames()
    except tarfile.TarError:
        raise Failure(f'{RESOLVE}archive/tar: invalid tar header') from None
    if not names:
        raise Failure(f'{RESOLVE}no files in chart archive')
    if not any(name.count('/') == 1 and name.endswith('/Chart.yaml') for name in names):
        raise Failure(f'{RESOLVE}Chart.yaml file is missing')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _seen_flag(marker: Path) -> Path:
    """The file another writer creates to tell the owner of ``marker`` that it saw it."""
    return marker.with_name(marker.name.replace(MARKER, SEEN, 1))


def _other_writers(path: Path, own: Path) -> list:
    """Markers of other live downloaders of ``path``, each flagged as seen (stale ones are removed)."""
    found = []
    for marker in path.parent.glob(path.name + MARKER + '*'):
        if marker == own:
            continue
        try:
            pid = int(marker.name[len(path.name + MARKER) :].split('-', 1)[0])
        except ValueError:
            continue
        if _alive(pid):
            found.append(marker.name)
            _seen_flag(marker).touch()
            if not marker.exists():  # its owner finished meanwhile: leave no orphan flag
                _seen_flag(marker).unlink(missing_ok=True)
        else:
            marker.unlink(missing_ok=True)
            _seen_flag(marker).unlink(missing_ok=True)
    return found


def _wait_for_gate():
    gate = os.environ.get(GATE_ENV)
    if not gate:
        return
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)


def _download(path: Path, version: str):
    own = path.with_name(f'{path.name}{MARKER}{os.getpid()}-{secrets.token_hex(4)}')
    fd = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    raced = False
    try:
        raced = bool(_other_writers(path, own))
        timing.knob('chart_download_s')
        _wait_for_gate()
        tmp = path.with_name(f'{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}')
        tmp.write_bytes(chart_archive(version))
        os.replace(tmp, path)
        raced = bool(_other_writers(path, own)) or raced
    finally:
        own.unlink(missing_ok=True)
        seen = _seen_flag(own)
        raced = seen.exists() or raced
        seen.unlink(missing_ok=True)
    calllog.note('chart_cache', 'downloaded')
    if raced:
        calllog.note('chart_cache_race', True)


def ensure_chart(version: str):
    """Use the cached chart of ``version``, downloading it first when it is missing. Call log: ``chart_cache`` is
    ``downloaded`` when any namespace of the run downloaded, else ``hit``."""
    path = chart_path(version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Failure(f'{RESOLVE}mkdir {exc.filename}: {go_errno_text(exc)}') from None
    if path.exists():
        calllog.note('chart_cache', 'hit', overwrite=False)
    else:
        try:
            _download(path, version)
        except OSError as exc:
            raise Failure(f'{RESOLVE}open {exc.filename}: {go_errno_text(exc)}') from None
    _check_archive(path)
