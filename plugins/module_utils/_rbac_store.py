# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Everest's RBAC policy is stored, and how it is read and written (everest_rbac_policy, everest_rbac_check,
tenant_quota_check, tenant_info, the account owners of _accounts).

* The ConfigMap ``everest-system/everest-rbac`` (reference §5.2): read, create, conditional update (``_k8s.read_modify_write``).
* A local policy file, as ``everestctl --policy-file`` reads it (reference §5.3): plain ``policy.csv`` text, or a YAML
  ConfigMap manifest whose ``data.policy.csv`` is the policy. ``PolicyFile`` edits one under an exclusive lock, saves
  the previous content with ``AnsibleModule.backup_local`` and replaces it with ``AnsibleModule.atomic_move``.

The policy model itself (parse, validate, managed blocks, evaluate) is ``_rbac.py``; it does no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy
import os
import shutil
import tempfile

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover
    HAS_FCNTL = False

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError

CONFIGMAP = '%s/%s' % (_constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)  # as messages name it
CONFIGMAP_PATH = _k8s.path('v1', 'configmaps', _constants.SYSTEM_NAMESPACE, _constants.RBAC_CONFIGMAP)
CONFIGMAPS_PATH = _k8s.path('v1', 'configmaps', _constants.SYSTEM_NAMESPACE)


# ------------------------------------------------------------------------------------------------------- ConfigMap


def read_configmap(client):
    """The ConfigMap, or None when it does not exist."""
    return client.get_or_none(CONFIGMAP_PATH)


def read_policy_text(client):
    """``policy.csv`` of the ConfigMap ('' when the key is missing or empty), or None when the ConfigMap does not exist."""
    obj = read_configmap(client)
    return None if obj is None else (((obj.get('data') or {}).get(_constants.RBAC_POLICY_KEY)) or '')


def configmap_info(obj):
    """Namespace, name and resourceVersion of the ConfigMap (``obj`` None: not created yet)."""
    return {
        'namespace': _constants.SYSTEM_NAMESPACE,
        'name': _constants.RBAC_CONFIGMAP,
        'resource_version': ((obj or {}).get('metadata') or {}).get('resourceVersion'),
    }


def create_configmap(client, data):
    """Create the ConfigMap with ``data``; K8sAlreadyExists when someone else created it meanwhile."""
    body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': _constants.RBAC_CONFIGMAP, 'namespace': _constants.SYSTEM_NAMESPACE}, 'data': data}
    return client.create(CONFIGMAPS_PATH, body)


def update_configmap(client, mutate, attempts):
    """Conditional update of the ConfigMap, re-read and re-applied on 409 (see ``_k8s.read_modify_write``)."""
    return _k8s.read_modify_write(client, CONFIGMAP_PATH, mutate, attempts=attempts)


def write_backup(text, directory, name):
    """Save ``text`` (a policy read from the ConfigMap) to ``directory/name``, created 0700, the file 0600."""
    path = os.path.join(directory, name)
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
    except (IOError, OSError) as exc:
        raise EverestError("cannot write the backup %s: %s; fix backup_dir (nothing was written to the policy)" % (path, exc))
    return path


# ------------------------------------------------------------------------------------------- ConfigMap manifests


def load_manifest(text):
    """The parsed document when ``text`` is a ConfigMap manifest with a string data.policy.csv (reference §5.3), else None."""
    if not HAS_YAML or text.lstrip().startswith(('p,', 'g,')):
        return None
    try:
        doc = yaml.safe_load(text)
    except Exception:  # pylint: disable=broad-except
        return None
    if isinstance(doc, dict) and isinstance(doc.get('data'), dict) and isinstance(doc['data'].get(_constants.RBAC_POLICY_KEY), str):
        return doc
    return None


def policy_from_file_text(text):
    """The policy a file holds, as everestctl reads it: a manifest's data.policy.csv, anything else is the policy itself."""
    doc = load_manifest(text)
    return text if doc is None else doc['data'][_constants.RBAC_POLICY_KEY]


if HAS_YAML:

    class _BlockDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """Multi-line strings (the policy) as literal blocks, so the manifest stays reviewable."""

    def _represent_str(dumper, value):
        return dumper.represent_scalar('tag:yaml.org,2002:str', value, style='|' if '\n' in value else None)

    _BlockDumper.add_representer(str, _represent_str)


def dump_manifest(doc, policy_text, enabled):
    """The manifest ``doc`` with a new data.policy.csv (and data.enabled unless None), as YAML text."""
    new = copy.deepcopy(doc)
    new['data'][_constants.RBAC_POLICY_KEY] = policy_text
    if enabled is not None:
        new['data'][_constants.RBAC_ENABLED_KEY] = enabled
    text = yaml.dump(new, Dumper=_BlockDumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
    if yaml.safe_load(text) != new:  # never write a manifest that does not read back to what we meant
        raise EverestError("cannot serialise the ConfigMap manifest faithfully; nothing was written")
    return text


# ----------------------------------------------------------------------------------------------------- local files


def read_policy_file(path):
    """The policy in a local file, read only (everest_rbac_check): bytes that are not UTF-8 are replaced."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
    except (IOError, OSError) as exc:
        raise EverestError("cannot read policy_file %s: %s" % (path, exc))
    return policy_from_file_text(text)


class PolicyFile:
    """A local policy file edited in place (everest_rbac_policy's O(policy_file)). A symbolic link is followed: the file it
    points to is replaced, the link stays. Use ``with policy_file.locked():`` around the read-modify-write."""

    def __init__(self, module, path):
        self.module = module
        self.target = os.path.realpath(path)
        self.directory, self.base = os.path.split(self.target)
        self.lock_path = os.path.join(self.directory, '.%s.lock' % self.base)

    @contextlib.contextmanager
    def locked(self):
        """Hold an exclusive lock on the sidecar file ``.<name>.lock`` (left in place), so writers on one host serialise."""
        if not os.path.isdir(self.directory):
            raise EverestError("policy_file %s: directory %s does not exist; create it first" % (self.target, self.directory))
        try:
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except (IOError, OSError) as exc:
            raise EverestError(
                "policy_file %s: cannot create the lock file %s: %s; nothing was changed (the directory must be writable)" % (self.target, self.lock_path, exc)
            )
        try:
            if HAS_FCNTL:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(lock_fd)  # releases the lock

    def read(self):
        """``(exists, text)``; the text must be UTF-8."""
        if not os.path.exists(self.target):
            return False, ''
        try:
            with open(self.target, 'rb') as handle:
                raw = handle.read()
        except (IOError, OSError) as exc:
            raise EverestError("policy_file %s: cannot read it: %s; nothing was changed" % (self.target, exc))
        try:
            return True, raw.decode('utf-8')
        except UnicodeDecodeError:
            raise EverestError("policy_file %s is not UTF-8 text; Everest policies are text" % self.target)

    def backup(self, backup_dir=None):
        """Save the current file with ``AnsibleModule.backup_local`` (``<file>.<pid>.<date>@<time>~``, mode and owner kept),
        moved into ``backup_dir`` when one is given; returns its path."""
        path = None
        try:
            path = self.module.backup_local(self.target)
            if backup_dir and os.path.realpath(backup_dir) != self.directory:
                if not os.path.isdir(backup_dir):
                    os.makedirs(backup_dir, 0o700)
                moved = os.path.join(backup_dir, os.path.basename(path))
                shutil.move(path, moved)
                path = moved
        except Exception as exc:  # pylint: disable=broad-except  # backup_local raises a bare Exception
            raise EverestError(
                "cannot write the backup %s: %s; fix backup_dir (nothing was written to the policy)" % (path or self.target, exc.__cause__ or exc)
            )
        return path

    def replace(self, data):
        """Replace the file by ``data`` (bytes) atomically: a temporary file ``.<name>.*.tmp`` in the same directory, flushed
        to disk and given the file's mode, then ``AnsibleModule.atomic_move`` (which keeps the owner when allowed and the
        SELinux context). Any failure is an EverestError naming the file, the step and the cause; the temporary file is
        removed and the target is left as it was (the move is the only step that touches it)."""
        step = "create a temporary file in %s" % self.directory
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".%s." % self.base, suffix=".tmp")
            step = "write the temporary file %s" % tmp
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                step = "flush the temporary file %s to disk (fsync)" % tmp
                os.fsync(handle.fileno())
            if os.path.exists(self.target):
                mode = os.stat(self.target).st_mode & 0o7777
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            step = "set mode %o on the temporary file %s" % (mode, tmp)
            os.chmod(tmp, mode)
            step = "rename %s over %s" % (tmp, self.target)
            self.module.atomic_move(tmp, self.target)
            tmp = None
        except Exception as exc:  # pylint: disable=broad-except  # atomic_move raises a bare Exception
            raise EverestError(
                "policy_file %s: cannot %s: %s; nothing was changed (the temporary file was removed, the policy file "
                "is as it was)" % (self.target, step, exc.__cause__ or exc),
                policy_file=self.target,
            )
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        _fsync_dir(self.directory)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
