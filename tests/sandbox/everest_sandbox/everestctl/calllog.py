"""The invocation log: one JSON line per run appended to ``$EVEREST_SANDBOX_CALL_LOG`` (nothing when unset).

Keys, in this order: the original four that readers rely on, ``ts`` (wall-clock start, epoch seconds), ``argv``
(secrets masked), ``rc``, ``duration_s``; then ``start`` / ``end`` (wall clock, epoch seconds; ``start`` equals
``ts``), ``mono_start`` / ``mono_end`` (``time.monotonic()``: CLOCK_MONOTONIC, one clock for every process of a
Linux host, so the spans of parallel runs can be compared), ``pid``, ``latency_s`` (seconds the latency model
slept); then, only when they apply, notes the command made: ``chart_cache`` (``hit`` or ``downloaded``, from
``namespaces add/update``) and ``chart_cache_race`` (``true``: another process was writing the chart cache file at
the same time). One ``os.write`` of an ``O_APPEND`` descriptor per line, so parallel runs never interleave lines.
"""

from __future__ import annotations

import json
import os
import time


class Invocation:
    """Timestamps and notes of the current run."""

    def __init__(self):
        self.wall_start = time.time()
        self.mono_start = time.monotonic()
        self.latency_s = 0.0
        self.notes: dict = {}

    def record(self, masked_argv: list, code: int) -> dict:
        mono_end = time.monotonic()
        rec = {
            'ts': self.wall_start,
            'argv': masked_argv,
            'rc': code,
            'duration_s': round(mono_end - self.mono_start, 6),
            'start': self.wall_start,
            'end': time.time(),
            'mono_start': self.mono_start,
            'mono_end': mono_end,
            'pid': os.getpid(),
            'latency_s': round(self.latency_s, 6),
        }
        rec.update(self.notes)
        return rec


_CURRENT: list = []  # the Invocation of the run in progress (main() may run several times in one process)


def begin() -> Invocation:
    inv = Invocation()
    _CURRENT[:] = [inv]
    return inv


def note(key: str, value, overwrite: bool = True):
    """Add ``key: value`` to the current run's line (ignored outside a run); ``overwrite=False`` keeps an earlier value."""
    if _CURRENT and (overwrite or key not in _CURRENT[0].notes):
        _CURRENT[0].notes[key] = value


def add_latency(seconds: float):
    if _CURRENT:
        _CURRENT[0].latency_s += seconds


def finish(inv: Invocation, masked_argv: list, code: int):
    """Append the run's line to ``$EVEREST_SANDBOX_CALL_LOG`` (best effort: a log problem never fails the run)."""
    _CURRENT[:] = []
    path = os.environ.get('EVEREST_SANDBOX_CALL_LOG')
    if not path:
        return
    line = (json.dumps(inv.record(masked_argv, code), ensure_ascii=False) + '\n').encode('utf-8')
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
