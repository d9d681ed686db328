# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster-wide mutex on a ``coordination.k8s.io/v1`` Lease.

Why: everestctl writes the accounts Secret with a non-atomic read-modify-write and ``accounts delete`` computes the
new map from an earlier read than the one it writes onto (reference §3), so a delete silently resurrects or drops an account
another writer changed in between. A writer cannot detect that afterwards (its own read-back is already done), so
account writes must not overlap at all. Every process of this collection that is about to run an account command
takes this lock first: forks of one play, several plays, several AWX jobs on different controllers.

Protocol (the one client-go's leader election uses, reduced to a mutex):

* acquire = create the Lease (``holderIdentity`` = us). 409 AlreadyExists means somebody holds it: wait.
* The holder renews ``renewTime`` every ``duration / 3`` seconds from a daemon thread while it holds the lock.
* A waiter considers the Lease expired when its ``resourceVersion`` has not changed for ``leaseDurationSeconds``
  measured on the waiter's own monotonic clock (no comparison of wall clocks across machines), then takes it over
  with a conditional update (409 means another waiter won).
* release = delete with a ``resourceVersion`` precondition (a lease taken over meanwhile is left alone).

Only writes take the lock: check mode and no-op runs never touch the Lease.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import os
import random
import socket
import threading
import time

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils import _retry
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (
    EverestError,
    K8sAlreadyExists,
    K8sConflict,
    K8sForbidden,
    K8sNotFound,
)

DEFAULT_DURATION = 30
DEFAULT_TIMEOUT = 300
# A holder's leaseDurationSeconds is trusted only within [our own duration, this]: a foreign Lease claiming 1 s cannot
# make us take it from a live holder early, and one claiming a day cannot make a dead holder's Lease last a day.
MAX_FOREIGN_DURATION = 120
RENEW_ATTEMPTS = 3
# A waiter polls the Lease after 0.04 s, doubling up to 1 s, times [0.5, 1.5), never past its deadline.
ACQUIRE_BACKOFF = _retry.Backoff(0.02, 1.0, _retry.WIDE_JITTER)

# Locks this process holds now (the module's signal handler releases them before it exits).
HELD = set()


def _micro_time(now=None):
    """Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def default_identity():
    return '%s/pid-%d/%08x' % (socket.gethostname(), os.getpid(), random.getrandbits(32))


class LockTimeout(EverestError):
    """The lock stayed held by another process for longer than the timeout."""


class LockLost(EverestError):
    """Another process took the lock over while we held it (we were not renewing in time)."""


class LeaseLock:
    """Re-entrant cluster-wide mutex (``with lock: ...``); nested ``with`` blocks share one acquisition.

    With ``sticky=True`` leaving the outermost ``with`` keeps the lock (a batch takes it at its first write and keeps
    it for the rest of the items); ``close()`` releases it.
    """

    def __init__(
        self,
        client,
        namespace,
        name,
        identity=None,
        duration=DEFAULT_DURATION,
        timeout=DEFAULT_TIMEOUT,
        purpose='',
        clock=time.monotonic,
        sleep=time.sleep,
        rng=None,
        renew=True,
        sticky=False,
    ):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.duration = max(3, int(duration))
        self.timeout = timeout
        self.purpose = purpose
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.renew_enabled = renew
        self.sticky = sticky
        self.acquisitions = 0
        self.depth = 0
        self.waited = 0.0
        self.takeovers = 0
        self._rv = None
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._lost = None
        self.path = _k8s.path(_constants.LEASE_API_VERSION, 'leases', namespace, name)
        self.collection = _k8s.path(_constants.LEASE_API_VERSION, 'leases', namespace)

    # ---------------------------------------------------------------------------------- public
    @property
    def held(self):
        return self.depth > 0

    @property
    def owned(self):
        """Whether this process holds the Lease now (also between the blocks of a sticky lock)."""
        return self._rv is not None and self._lost is None

    def __enter__(self):
        if self.depth == 0 and self._rv is None:
            self.acquire()
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0 and not self.sticky:
            self.release()
        return False

    def close(self):
        """Release the lock if this object still holds it (idempotent)."""
        self.depth = 0
        self.release()

    def check(self):
        """Raise LockLost when the renewer found the lease taken over by someone else."""
        if self._lost is not None:
            raise self._lost

    # ---------------------------------------------------------------------------------- protocol
    def _spec(self, transitions=0):
        stamp = _micro_time()
        return {
            'holderIdentity': self.identity,
            'leaseDurationSeconds': self.duration,
            'acquireTime': stamp,
            'renewTime': stamp,
            'leaseTransitions': transitions,
        }

    def _body(self):
        return {
            'apiVersion': _constants.LEASE_API_VERSION,
            'kind': 'Lease',
            'metadata': {
                'name': self.name,
                'namespace': self.namespace,
                'labels': {_constants.MANAGED_BY_LABEL: _constants.MANAGED_BY},
                'annotations': {_constants.PURPOSE_ANNOTATION: self.purpose} if self.purpose else {},
            },
            'spec': self._spec(),
        }

    def acquire(self):
        try:
            self._acquire()
        except K8sForbidden as exc:
            raise EverestError(
                "cannot take Lease %s/%s (%s): the Kubernetes API refused it (403 Forbidden: %s). Grant the credentials get, "
                "create, update and delete on leases (coordination.k8s.io) in namespace %s, or set cluster_lock: false and "
                "serialise account changes yourself" % (self.namespace, self.name, self.purpose or 'lock', exc.msg, self.namespace),
                lease=self.name,
                namespace=self.namespace,
            )

    def _foreign_duration(self, spec):
        try:
            claimed = int(spec.get('leaseDurationSeconds'))
        except (TypeError, ValueError):
            return self.duration
        return min(max(claimed, self.duration), max(self.duration, MAX_FOREIGN_DURATION))

    def _acquire(self):
        started = self.clock()
        deadline = started + self.timeout
        observed_rv, observed_at = None, None
        attempt = 0
        vanished = False
        while True:
            try:
                created = self.client.create(self.collection, self._body())
                self._took(created, started)
                return
            except K8sAlreadyExists:
                pass
            current = self.client.get_or_none(self.path)
            now = self.clock()
            holder = None
            if current is None:
                # released between our create and our read: try again at once, but only once in a row (a Lease that
                # keeps "existing" for create and "missing" for get must not make this loop spin)
                if not vanished:
                    vanished = True
                    continue
            else:
                vanished = False
                meta = current.get('metadata') or {}
                spec = current.get('spec') or {}
                if meta.get('resourceVersion') != observed_rv:
                    observed_rv, observed_at = meta.get('resourceVersion'), now
                holder = spec.get('holderIdentity')
                if not holder or holder == self.identity or now - observed_at >= self._foreign_duration(spec):
                    taken = copy.deepcopy(current)
                    taken['spec'] = dict(spec, **self._spec(int(spec.get('leaseTransitions') or 0) + 1))
                    taken['spec']['acquireTime'] = taken['spec']['renewTime']
                    try:
                        replaced = self.client.replace(self.path, taken)
                        self.takeovers += 1
                        self._took(replaced, started)
                        return
                    except (K8sConflict, K8sNotFound):
                        pass
            if now >= deadline:
                values = (self.timeout, self.namespace, self.name, self.purpose or 'lock', holder, self.namespace, self.name)
                raise LockTimeout(
                    "timed out after %ds waiting for Lease %s/%s (%s), held by %r; another run is changing the same "
                    "Everest installation. Wait for it, or, if that holder is gone, delete the Lease (kubectl -n %s delete "
                    "lease %s) or raise the lock timeout" % values,
                    lease=self.name,
                    namespace=self.namespace,
                    holder=holder,
                )
            attempt += 1
            ACQUIRE_BACKOFF.pause(attempt, self.sleep, self.rng, deadline=deadline, now=now)

    def _took(self, obj, started):
        self._rv = obj['metadata']['resourceVersion']
        HELD.add(self)
        self.acquisitions += 1
        self.waited += self.clock() - started
        self._lost = None
        if self.renew_enabled:
            self._stop.clear()
            self._thread = threading.Thread(target=self._renew_loop, name='lease-renew-%s' % self.name)
            self._thread.daemon = True
            self._thread.start()

    def _mark_lost(self, holder):
        self._lost = LockLost(
            "Lease %s/%s was taken over by %r while this run held it; the account change may have "
            "overlapped another writer; re-run to verify" % (self.namespace, self.name, holder),
            lease=self.name,
            namespace=self.namespace,
        )
        self._rv = None
        HELD.discard(self)

    def renew(self):
        """One conditional renewal; returns False (and records LockLost) when the lease is no longer ours.

        A 409 (the Lease changed between our read and our update) is read again: while the Lease still names us we
        retry with its new resourceVersion, so ``_rv`` never stays stale (release() needs it)."""
        with self._guard:
            for _attempt in range(RENEW_ATTEMPTS):
                if self._rv is None:
                    return False
                current = self.client.get_or_none(self.path)
                spec = (current or {}).get('spec') or {}
                if current is None or spec.get('holderIdentity') != self.identity:
                    self._mark_lost(spec.get('holderIdentity'))
                    return False
                current['spec']['renewTime'] = _micro_time()
                try:
                    self._rv = self.client.replace(self.path, current)['metadata']['resourceVersion']
                    return True
                except K8sConflict:
                    continue
            return True  # still ours at the last read; the next renewal tries again

    def verify(self):
        """Fencing: raise LockLost unless the Lease still names us (one GET). Account writes call it before and after
        every everestctl command, so no write starts, or goes unreported, once the lock is lost."""
        self.check()
        with self._guard:
            if self._rv is None:
                raise LockLost("Lease %s/%s is not held by this run" % (self.namespace, self.name), lease=self.name, namespace=self.namespace)
            current = self.client.get_or_none(self.path)
            spec = (current or {}).get('spec') or {}
            if current is None or spec.get('holderIdentity') != self.identity:
                self._mark_lost(spec.get('holderIdentity'))
            else:
                self._rv = current['metadata']['resourceVersion']
        self.check()

    def _renew_loop(self):
        interval = self.duration / 3.0
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
            except EverestError:
                continue  # transient API trouble: try again next interval; expiry protects the others

    def release(self, join=True):
        """Give the Lease back (delete it with a resourceVersion precondition; a Lease taken over meanwhile is left
        alone). ``join=False`` does not wait for the renewer thread (signal handlers: it may wait on our connection)."""
        if self._thread is not None:
            self._stop.set()
            if join:
                self._thread.join()
            self._thread = None
        with self._guard:
            rv, self._rv = self._rv, None
        HELD.discard(self)
        if rv is None:
            return
        for _attempt in range(RENEW_ATTEMPTS):
            try:
                self.client.delete(self.path, body={'apiVersion': 'v1', 'kind': 'DeleteOptions', 'preconditions': {'resourceVersion': rv}})
                return
            except K8sConflict:
                current = self.client.get_or_none(self.path)
                if current is None or ((current.get('spec') or {}).get('holderIdentity') != self.identity):
                    return  # taken over meanwhile: not ours to delete
                rv = current['metadata']['resourceVersion']  # renewed by us after our last read: delete that one


def release_all():
    """Best-effort release of every Lease this process holds (the module's signal handler)."""
    for lock in list(HELD):
        try:
            lock.client.close_connection()  # the interrupted exchange may have left the connection mid-request
            lock.release(join=False)
        except Exception:  # pylint: disable=broad-except
            pass  # unreachable API: the Lease expires on its own (nobody renews it any more)
