"""Per-client-IP rate limits of the Everest server (reference §7), with an injectable clock.

* ``TokenBucket``: ``rate`` requests per second with ``burst`` (golang.org/x/time/rate semantics: a refused
  request takes no token).
* ``SessionLimiter``: the ``/v1/session`` limiter = a token bucket (default 1 req/s, burst 1) plus the lockout:
  after each failed login and on each logout the required gap since the previous attempt doubles, starting at
  20 ms; every attempt, even a refused one, restarts the gap; a successful login resets it.
"""

from __future__ import annotations

import math
import threading


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock):
        self.rate = float(rate)
        self.burst = int(burst)
        self.clock = clock
        self._state: dict = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed (a token is taken), else the seconds until a token is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class SessionLimiter:
    def __init__(self, clock, rate: float = 1.0, burst: int = 1, base_gap: float = 0.02):
        self.clock = clock
        self.bucket = TokenBucket(rate, burst, clock)
        self.base_gap = base_gap
        self._gap: dict = {}  # ip -> required gap (seconds)
        self._last: dict = {}  # ip -> time of the previous attempt
        self._lock = threading.Lock()

    def attempt(self, ip: str) -> float:
        """Register an attempt; 0 when it may proceed, else the seconds to wait (the answer is 429)."""
        now = self.clock()
        with self._lock:
            gap = self._gap.get(ip, 0.0)
            last = self._last.get(ip)
            self._last[ip] = now  # every attempt restarts the gap
            if last is not None and gap > 0 and now - last < gap:
                return gap
        wait = self.bucket.take(ip)
        return wait

    def failed(self, ip: str):
        with self._lock:
            gap = self._gap.get(ip, 0.0)
            self._gap[ip] = self.base_gap if gap <= 0 else gap * 2

    def logout(self, ip: str):
        self.failed(ip)

    def succeeded(self, ip: str):
        with self._lock:
            self._gap[ip] = 0.0


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds (at least 1), as HTTP requires integers."""
    return str(max(1, int(math.ceil(seconds))))
