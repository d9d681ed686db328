"""Unit tests of _retry: the one backoff formula and the one poll loop.

The oracles are the formulas each call site had before they were folded into ``_retry.Backoff``: the same random
draws must give the same pauses, to the bit."""

import random

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _k8s, _lock, _namespaces, _retry
from ansible_collections.virakcloud.everest.plugins.module_utils import _everest_client

from test_lease_lock import Clock  # a manual clock whose sleep() advances it


def _draws(seed, n):
    rng = random.Random(seed)
    return [rng.random() for dummy in range(n)]


class Replay:
    """random.Random stand-in replaying fixed draws."""

    def __init__(self, draws):
        self.draws = list(draws)

    def random(self):
        return self.draws.pop(0)


OLD_FORMULAS = [
    # (policy, retry index -> old delay from one draw r)
    (_k8s.TRANSIENT_BACKOFF, lambda n, r: min(5.0, 0.2 * (2**n)) * (0.5 + r / 2)),
    (_k8s.CONFLICT_BACKOFF, lambda n, r: min(2.0, 0.05 * (2**n)) * (0.5 + r)),
    (_everest_client.BACKOFF, lambda n, r: min(30.0, 0.5 * (2**n)) * (0.5 + r / 2)),
    (_accounts.CONFLICT_BACKOFF, lambda n, r: 0.0 + (min(2.0, 0.05 * (2**n)) - 0.0) * r),  # rng.uniform(0, x)
    (_namespaces.CONFLICT_BACKOFF, lambda n, r: 0.0 + (min(2.0, 0.1 * (2**n)) - 0.0) * r),
    (_lock.ACQUIRE_BACKOFF, lambda n, r: min(1.0, 0.02 * (2 ** min(n, 6))) * (0.5 + r)),
]


@pytest.mark.parametrize("policy,old", OLD_FORMULAS)
def test_backoff_equals_the_formula_it_replaced(policy, old):
    draws = _draws(11, 40)
    replay = Replay(draws)
    assert [policy.delay(n, replay) for n in range(40)] == [old(n, r) for n, r in enumerate(draws)]


def test_retry_after_is_honoured_clamped_and_ignored_when_not_a_number():
    policy = _retry.Backoff(0.5, 30.0, retry_after_cap=30.0)
    never = Replay([])  # a Retry-After needs no draw
    assert policy.delay(0, never, retry_after="3") == 3.0
    assert policy.delay(5, never, retry_after="3600") == 30.0
    assert policy.delay(0, never, retry_after="-1") == 0.0
    assert policy.delay(0, Replay([0.0]), retry_after="soon") == 0.25
    assert _retry.Backoff(0.5, 30.0).delay(0, Replay([0.0]), retry_after="3") == 0.25  # no cap given: header not used


def test_pause_sleeps_and_never_past_the_deadline():
    slept = []
    policy = _retry.Backoff(1.0, 8.0, _retry.FULL_JITTER)
    assert policy.pause(3, slept.append, Replay([0.5])) == 4.0
    assert policy.pause(3, slept.append, Replay([0.5]), deadline=10.0, now=9.0) == 1.0
    assert policy.pause(3, slept.append, Replay([0.5]), deadline=10.0, now=11.0) == 0.0
    assert slept == [4.0, 1.0, 0.0]


def test_huge_retry_index_does_not_overflow():
    assert _retry.Backoff(0.02, 1.0).delay(10000, Replay([0.0])) == 0.5


def test_poll_doubles_the_interval_up_to_its_maximum_and_returns_the_object():
    clock = Clock()
    values = iter(range(10))
    assert _retry.poll(lambda: next(values), lambda v: v == 6, 100, RuntimeError, sleep=clock.sleep, clock=clock, max_interval=1.0) == 6
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_poll_first_object_makes_no_call_and_check_can_stop_it():
    calls = []

    def fetch():
        calls.append(1)
        return 'failed'

    def check(obj):
        if obj == 'failed':
            raise ValueError('gave up')

    assert _retry.poll(fetch, lambda v: v == 'ok', 10, RuntimeError, first='ok') == 'ok' and calls == []
    with pytest.raises(ValueError, match='gave up'):
        _retry.poll(fetch, lambda v: v == 'ok', 10, RuntimeError, check=check, sleep=lambda s: None)


def test_poll_times_out_with_the_last_object():
    clock = Clock()
    with pytest.raises(LookupError) as info:
        _retry.poll(lambda: {'n': clock.now}, lambda v: False, 1.0, LookupError, sleep=clock.sleep, clock=clock)
    assert info.value.args[0] == {'n': clock.now} and clock.now >= 1001.0  # the clock starts at 1000
