"""Unit tests of _lock.LeaseLock: the Lease protocol against a fake API with real resourceVersion semantics."""

import copy
import random

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _lock
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    K8sAlreadyExists,
    K8sConflict,
    K8sNotFound,
)

PATH = "/apis/coordination.k8s.io/v1/namespaces/everest-system/leases/test-lock"
COLLECTION = "/apis/coordination.k8s.io/v1/namespaces/everest-system/leases"


class FakeApi:
    """One Lease object; create/replace/delete honour existence and resourceVersion like the API server."""

    def __init__(self):
        self.obj = None
        self.rv = 0
        self.ops = []

    def _stamp(self, body):
        self.rv += 1
        obj = copy.deepcopy(body)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.obj = obj
        return copy.deepcopy(obj)

    def create(self, path, body):
        assert path == COLLECTION
        self.ops.append("create")
        if self.obj is not None:
            raise K8sAlreadyExists("leases \"test-lock\" already exists")
        return self._stamp(body)

    def get_or_none(self, path):
        assert path == PATH
        self.ops.append("get")
        return copy.deepcopy(self.obj)

    def replace(self, path, body):
        assert path == PATH
        self.ops.append("replace")
        if self.obj is None:
            raise K8sNotFound("gone")
        if body["metadata"].get("resourceVersion") != self.obj["metadata"]["resourceVersion"]:
            raise K8sConflict("modified")
        return self._stamp(body)

    def delete(self, path, body=None):
        assert path == PATH
        self.ops.append("delete")
        if self.obj is None:
            return None
        wanted = body["preconditions"]["resourceVersion"]
        if wanted != self.obj["metadata"]["resourceVersion"]:
            raise K8sConflict("Precondition failed")
        self.obj = None
        return None


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.001)


def make(api, clock, identity, **kwargs):
    kwargs.setdefault("renew", False)
    return _lock.LeaseLock(
        api, "everest-system", "test-lock", identity=identity, clock=clock, sleep=clock.sleep, rng=random.Random(7), purpose="unit test", **kwargs
    )


def test_acquire_and_release():
    api, clock = FakeApi(), Clock()
    lock = make(api, clock, "me")
    with lock:
        assert api.obj["spec"]["holderIdentity"] == "me" and api.obj["spec"]["leaseDurationSeconds"] == 30
        assert api.obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "virakcloud.everest"}
        assert lock.held
    assert api.obj is None and api.ops == ["create", "delete"] and not lock.held


def test_reentrant_blocks_share_one_acquisition():
    api, clock = FakeApi(), Clock()
    lock = make(api, clock, "me")
    with lock:
        with lock:
            pass
        assert api.obj is not None
    assert api.ops == ["create", "delete"]


def test_sticky_keeps_the_lock_until_close():
    api, clock = FakeApi(), Clock()
    lock = make(api, clock, "me", sticky=True)
    with lock:
        pass
    with lock:
        pass
    assert api.ops == ["create"] and api.obj["spec"]["holderIdentity"] == "me"
    lock.close()
    lock.close()
    assert api.ops == ["create", "delete"] and api.obj is None and lock.acquisitions == 1


def test_waits_for_a_live_holder_and_times_out_naming_it():
    api, clock = FakeApi(), Clock()
    holder = make(api, clock, "other-host/pid-1")
    holder.acquire()
    waiter = make(api, clock, "me", timeout=100)
    renewals = []

    def renew_while_waiting(seconds):
        clock.sleep(seconds)
        if clock.now - (renewals[-1] if renewals else 1000.0) >= 10:  # the holder renews every duration/3
            holder.renew()
            renewals.append(clock.now)

    waiter.sleep = renew_while_waiting
    with pytest.raises(_lock.LockTimeout) as info:
        waiter.acquire()
    msg = info.value.msg
    assert "other-host/pid-1" in msg and "everest-system/test-lock" in msg and "kubectl -n everest-system delete lease test-lock" in msg
    assert api.obj["spec"]["holderIdentity"] == "other-host/pid-1" and len(renewals) >= 5
    assert 100 <= clock.now - 1000.0 < 102


def test_dead_holder_is_taken_over_after_the_lease_duration():
    api, clock = FakeApi(), Clock()
    dead = make(api, clock, "dead")
    dead.acquire()  # never renews, never releases
    waiter = make(api, clock, "me")
    waiter.acquire()
    assert api.obj["spec"]["holderIdentity"] == "me" and api.obj["spec"]["leaseTransitions"] == 1
    assert waiter.takeovers == 1 and 30 <= waiter.waited < 32
    # the dead holder's late release must not delete the new holder's lease
    dead.release()
    assert api.obj["spec"]["holderIdentity"] == "me"
    waiter.release()
    assert api.obj is None


def test_released_lease_is_taken_without_waiting():
    api, clock = FakeApi(), Clock()
    first = make(api, clock, "first")
    first.acquire()
    second = make(api, clock, "second")
    original_sleep = second.sleep

    def release_then_sleep(seconds):
        first.release()
        original_sleep(seconds)

    second.sleep = release_then_sleep
    second.acquire()
    assert api.obj["spec"]["holderIdentity"] == "second" and second.takeovers == 0 and second.waited < 1


def test_takeover_race_lost_to_another_waiter():
    api, clock = FakeApi(), Clock()
    make(api, clock, "dead").acquire()
    waiter = make(api, clock, "me", timeout=45)  # expiry is measured from the waiter's first sight: t0 + 30
    real_replace = api.replace

    def someone_else_first(path, body):
        api.replace = real_replace
        winner = copy.deepcopy(api.obj)
        winner["spec"]["holderIdentity"] = "fast-waiter"
        real_replace(path, winner)
        return real_replace(path, body)  # our stale resourceVersion: 409

    api.replace = someone_else_first
    with pytest.raises(_lock.LockTimeout) as info:
        waiter.acquire()
    # lost the race at t0 + 30; the winner's fresh lease then has its own 30 s, more than the 15 s left
    assert "fast-waiter" in info.value.msg and api.obj["spec"]["holderIdentity"] == "fast-waiter"


def test_renew_detects_a_takeover():
    api, clock = FakeApi(), Clock()
    lock = make(api, clock, "me")
    lock.acquire()
    rv = api.obj["metadata"]["resourceVersion"]
    assert lock.renew() is True and api.obj["metadata"]["resourceVersion"] != rv
    stolen = copy.deepcopy(api.obj)
    stolen["spec"]["holderIdentity"] = "thief"
    api.replace(PATH, stolen)
    assert lock.renew() is False
    with pytest.raises(_lock.LockLost) as info:
        lock.check()
    assert "thief" in info.value.msg
    lock.release()
    assert api.obj["spec"]["holderIdentity"] == "thief"


def test_renewer_thread_stops_on_release():
    api, clock = FakeApi(), Clock()
    lock = make(api, clock, "me", renew=True)
    with lock:
        assert lock._thread is not None and lock._thread.is_alive()
        thread = lock._thread
    assert not thread.is_alive() and lock._thread is None and api.obj is None


def test_micro_time_format():
    import datetime

    stamp = _lock._micro_time(datetime.datetime(2026, 11, 23, 14, 0, 1, 5, tzinfo=datetime.timezone.utc))
    assert stamp == "2026-11-23T14:00:01.000005Z"


def test_forbidden_names_the_permission_and_the_way_out():
    from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, K8sForbidden

    class Forbidden(FakeApi):
        def create(self, path, body):
            raise K8sForbidden('leases.coordination.k8s.io is forbidden: User "ci" cannot create resource "leases"')

    lock = make(Forbidden(), Clock(), "me")
    with pytest.raises(EverestError) as info:
        lock.acquire()
    msg = info.value.msg
    assert "403 Forbidden" in msg and "leases (coordination.k8s.io) in namespace everest-system" in msg
    assert "cluster_lock: false" in msg and not lock.owned
