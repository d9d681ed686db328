"""Time in the emulator: the sleeps that stand for the real CLI's slow work, and Go's RFC 3339 clock text.

``pause(seconds)`` sleeps and adds the time to the run's ``latency_s`` in the call log. The amounts come from
``everest_sandbox.latency`` (environment ``EVEREST_SANDBOX_LATENCY_*``, off by default) and, for namespaces, from the
older flat ``EVEREST_SANDBOX_NS_DELAY_S``. A bad latency variable fails the command with a message naming it.
"""

from __future__ import annotations

import datetime
import os
import time

from .. import latency
from . import calllog
from .output import Failure

NS_DELAY_ENV = 'EVEREST_SANDBOX_NS_DELAY_S'


def model() -> latency.Model:
    try:
        return latency.from_env()
    except latency.LatencyError as exc:
        raise Failure(f'sandbox latency model: {exc}') from None


def pause(seconds: float):
    if seconds > 0:
        time.sleep(seconds)
        calllog.add_latency(seconds)


def knob(name: str):
    """Sleep for one knob of the model."""
    pause(model().seconds(name))


def ns_delay():
    """``EVEREST_SANDBOX_NS_DELAY_S`` seconds (ignored unless a number > 0), once per namespace of add/update/remove."""
    try:
        delay = float(os.environ.get(NS_DELAY_ENV, '0') or 0)
    except ValueError:
        delay = 0.0
    pause(delay)


def rfc3339_now() -> str:
    """Go ``time.Now().Format(time.RFC3339)`` in the local zone."""
    text = datetime.datetime.now().astimezone().replace(microsecond=0).isoformat()
    return text[:-6] + 'Z' if text.endswith('+00:00') else text
