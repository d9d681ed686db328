# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files holding credentials (a kubeconfig for everestctl, client certificates) that must never outlive the module.

On Linux they are anonymous memory files (``memfd_create``): nothing is ever written to disk, so not even a SIGKILL of
the module can leave one behind. Their path is ``/proc/self/fd/<n>``; a child process that must read one (everestctl)
inherits the descriptor (``inheritable_fds()`` for ``Popen(pass_fds=...)``) and opens the same path in its own
``/proc/self``. Elsewhere they are 0600 temporary files, removed by ``close()``, at interpreter exit and by the module's
signal handlers (``close_all()``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import os
import tempfile
import threading

PREFIX = 'virakcloud-everest-'
_LOCK = threading.Lock()
_OPEN = []


def _memfd_available():
    return hasattr(os, 'memfd_create') and os.path.isdir('/proc/self/fd')


class PrivateFile:
    """One private file: ``path`` to open it, ``fd`` (memory file) or None (temporary file on disk)."""

    def __init__(self, data, suffix=''):
        self.fd = None
        if _memfd_available():
            # close-on-exec: a child gets it only through pass_fds
            self.fd = os.memfd_create(PREFIX + suffix.lstrip('.'), os.MFD_CLOEXEC)
            os.fchmod(self.fd, 0o600)
            self._write(self.fd, data)
            self.path = '/proc/self/fd/%d' % self.fd
        else:
            fd, self.path = tempfile.mkstemp(prefix=PREFIX, suffix=suffix)
            try:
                os.fchmod(fd, 0o600)
                self._write(fd, data)
            finally:
                os.close(fd)
        with _LOCK:
            _OPEN.append(self)

    @staticmethod
    def _write(fd, data):
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def close(self):
        """Forget the file (idempotent): close the memory file, or remove the temporary file."""
        with _LOCK:
            if self in _OPEN:
                _OPEN.remove(self)
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError:
                pass
        elif self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.path = None


def create(data, suffix=''):
    return PrivateFile(data, suffix)


def inheritable_fds():
    """The descriptors of the live memory files (what a child must inherit to open their paths)."""
    with _LOCK:
        return tuple(f.fd for f in _OPEN if f.fd is not None)


def close_all():
    """Close every live private file (signal handlers and interpreter exit)."""
    with _LOCK:
        files = list(_OPEN)
    for private in files:
        private.close()


atexit.register(close_all)
