# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny on-disk cache of non-secret facts, shared by the modules running on one host.

One small JSON file per key (``$XDG_CACHE_HOME/virakcloud.everest/<kind>-<sha256(key)>.json``), written atomically
(temp file + rename), so concurrent runs never rewrite each other's entries. Every problem with the cache (missing
directory, unreadable or foreign content, read-only home) means "not cached": callers always have a way to get the
fact from its source, and nothing that could be wrong is ever trusted without a check (see the callers).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile


def cache_dir():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.environ.get('HOME') or tempfile.gettempdir(), '.cache')
    return os.path.join(base, 'virakcloud.everest')


def cache_file(kind, key):
    digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]
    return os.path.join(cache_dir(), '%s-%s.json' % (kind, digest))


def load(kind, key):
    """The value stored for (kind, key), or None."""
    try:
        with open(cache_file(kind, key)) as handle:
            data = json.load(handle)
    except (OSError, IOError, ValueError):
        return None
    if isinstance(data, dict) and data.get('key') == key and 'value' in data:
        return data['value']
    return None


def store(kind, key, value):
    """Remember ``value`` (JSON-serialisable, never a secret) for (kind, key); failures are ignored."""
    try:
        directory = cache_dir()
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s-' % kind)
        with os.fdopen(fd, 'w') as handle:
            json.dump({'key': key, 'value': value}, handle)
        os.rename(tmp, cache_file(kind, key))
    except (OSError, IOError):
        pass
