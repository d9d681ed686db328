# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one retry and polling helper: jittered exponential backoff and a deadline-bounded poll loop.

* ``Backoff``: the pause before retry ``n`` (0 for the first retry) is ``min(cap, base * 2**n)`` times a factor drawn
  uniformly from ``[low, high)`` of its jitter (``EQUAL_JITTER`` = [0.5, 1): at least half the delay;
  ``WIDE_JITTER`` = [0.5, 1.5): around the delay; ``FULL_JITTER`` = [0, 1): anything up to the delay). A server's
  ``Retry-After`` replaces the computed delay, clamped to ``[0, retry_after_cap]``; a ``deadline`` cuts the pause
  short. Each call site keeps its own bounds (how many attempts, what is retried); only the formula lives here.
* ``poll``: fetch an object until a predicate holds, with a doubling interval, a deadline and a hook that raises
  when the object shows a failure.

``sleep``, ``clock`` and ``rng`` (anything with ``random()``) are arguments, so tests run without waiting and with
exact delays.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

EQUAL_JITTER = (0.5, 1.0)
WIDE_JITTER = (0.5, 1.5)
FULL_JITTER = (0.0, 1.0)
# 2**60 times any base we use is far above any cap; the exponent is bounded so a long retry loop cannot overflow a float
_MAX_EXPONENT = 60
_UNSET = object()


def retry_after_seconds(value, cap):
    """Seconds a ``Retry-After`` header (in seconds) asks for, clamped to ``[0, cap]``; None when absent or not a number."""
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), cap)
    except (TypeError, ValueError):
        return None


class Backoff:
    """A backoff policy (no state): see the module docstring."""

    def __init__(self, base, cap, jitter=EQUAL_JITTER, retry_after_cap=None):
        self.base = base
        self.cap = cap
        self.low, self.high = jitter
        self.retry_after_cap = retry_after_cap

    def delay(self, retry, rng, retry_after=None):
        """Seconds to wait before retry number ``retry`` (0-based); ``retry_after``: the server's header value, if any."""
        if self.retry_after_cap is not None:
            asked = retry_after_seconds(retry_after, self.retry_after_cap)
            if asked is not None:
                return asked
        return min(self.cap, self.base * (2 ** min(retry, _MAX_EXPONENT))) * (self.low + (self.high - self.low) * rng.random())

    def pause(self, retry, sleep, rng, retry_after=None, deadline=None, now=None):
        """Sleep before retry ``retry`` (never past ``deadline``, measured against ``now``); returns the seconds slept."""
        seconds = self.delay(retry, rng, retry_after)
        if deadline is not None:
            seconds = max(0.0, min(seconds, deadline - now))
        sleep(seconds)
        return seconds


def poll(fetch, done, timeout, on_timeout, check=None, first=_UNSET, interval=0.1, max_interval=2.0, sleep=time.sleep, clock=time.monotonic):
    """Call ``fetch()`` until ``done(obj)``, sleeping ``interval`` seconds, doubled after each poll up to ``max_interval``.

    ``first``: an object already fetched (the first poll then makes no call). ``check(obj)`` may raise when the object
    shows a failure that waiting cannot cure. When ``timeout`` seconds have passed, ``on_timeout(obj)`` gives the
    exception to raise (``obj``: the last object fetched). Returns the object that satisfied ``done``.
    """
    deadline = clock() + timeout
    delay = interval
    obj = fetch() if first is _UNSET else first
    while True:
        if done(obj):
            return obj
        if check is not None:
            check(obj)
        if clock() >= deadline:
            raise on_timeout(obj)
        sleep(delay)
        delay = min(delay * 2, max_interval)
        obj = fetch()
