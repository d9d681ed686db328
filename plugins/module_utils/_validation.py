# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The single source of Everest's input rules (reference §2.2, §4.3, §6.3).

Every ``check_*`` function returns ``None`` when the value is acceptable, else the error text Everest
itself prints for that value (so a module fails with the same words everestctl would use, but before
anything runs). ``_everestctl.py`` uses the same functions for argv values.

Go's ``regexp`` ``$`` means end of text; Python's ``$`` also matches before a trailing newline, so
every pattern here is matched with ``fullmatch`` on a ``\\Z``-anchored expression.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re

from ansible_collections.virakcloud.everest.plugins.module_utils._constants import (
    EVEREST_NAMESPACES,
    RESERVED_NAMESPACE_PATTERNS,
)

# reference §2.2
USERNAME_PATTERN = r'^[a-zA-Z0-9_]{3,}$'
PASSWORD_PATTERN = r'^[a-zA-Z0-9@*#$%^&+=!_-]{6,}$'
# reference §4.3 (RFC 1035 label, max 63)
NAMESPACE_PATTERN = r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'
# reference §6.3 (RFC 1035 label; Everest's API limits object names to 22 characters)
OBJECT_NAME_PATTERN = NAMESPACE_PATTERN
# Kubernetes label value (tenant names label the objects the role creates); at most 63 characters.
LABEL_VALUE_PATTERN = r'^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])$'
# Kubernetes label key: optional DNS-subdomain prefix (at most 253) and '/', then a name of at most 63 characters
LABEL_NAME_PATTERN = r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$'
# RFC 1123 DNS subdomain: label key prefixes and most Kubernetes object names (at most 253 characters)
DNS_SUBDOMAIN_PATTERN = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
LABEL_NAME_MAX_LENGTH = 63
DNS_SUBDOMAIN_MAX_LENGTH = 253
OBJECT_NAME_MAX_LENGTH = 22
NAMESPACE_MAX_LENGTH = 63
# A decimal integer written as text (limits given as strings)
INTEGER_PATTERN = r'^[+-]?[0-9]+$'
# Everest's RBAC term rule (reference §5.6 check 1), Go text kept verbatim: ``*-_`` is a RANGE (0x2A..0x5F), as in Go.
# Only ever used with ``fullmatch`` (see _rbac.term_ok); the anchors are part of the verbatim text.
RBAC_TERM_PATTERN = r"^[/*-_:a-zA-Z0-9]+$"
RBAC_TERM_RE = re.compile(RBAC_TERM_PATTERN)
# Names of the managed blocks of policy.csv (this collection's rule: no white space, no comma, no quote)
RBAC_BLOCK_NAME_PATTERN = r'^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,252}$'
# IdP group names and OIDC subjects a tenant binds (reference §9.4). Everest itself never checks a g line's member, but a
# name may also have to work as a p subject, as a `settings rbac can` argument and in every upstream variant of the term
# rule; the characters all of them accept are [A-Za-z0-9/*_:.@+-]. Of these the collection also refuses '*' (it looks
# like a wildcard, yet Everest matches subjects literally) and a leading '-' (everestctl would read it as a flag).
SSO_NAME_PATTERN = r'^[A-Za-z0-9/_.@+:][A-Za-z0-9/_.@+:-]*$'
SSO_NAME_CHARS = "letters, digits and / _ . @ + : -"
# Values passed as positional arguments of `settings rbac can` (reference §5.1): one token, no leading dash
RBAC_CAN_ARG_PATTERN = r'^[^\s,"\'#-][^\s,"\']*$'


def _compile(pattern):
    # '^...$' -> '...\Z' so a trailing newline never passes (Go semantics)
    body = pattern[1:-1] if pattern.startswith('^') and pattern.endswith('$') else pattern
    return re.compile(r'(?:' + body + r')\Z')


USERNAME_RE = _compile(USERNAME_PATTERN)
PASSWORD_RE = _compile(PASSWORD_PATTERN)
NAMESPACE_RE = _compile(NAMESPACE_PATTERN)
OBJECT_NAME_RE = _compile(OBJECT_NAME_PATTERN)
LABEL_VALUE_RE = _compile(LABEL_VALUE_PATTERN)
LABEL_NAME_RE = _compile(LABEL_NAME_PATTERN)
DNS_SUBDOMAIN_RE = _compile(DNS_SUBDOMAIN_PATTERN)
INTEGER_RE = _compile(INTEGER_PATTERN)
RBAC_BLOCK_NAME_RE = _compile(RBAC_BLOCK_NAME_PATTERN)
RBAC_CAN_ARG_RE = re.compile(RBAC_CAN_ARG_PATTERN)  # used with match(), as it always was
SSO_NAME_RE = _compile(SSO_NAME_PATTERN)

RESERVED_NAMESPACES = EVEREST_NAMESPACES  # what everestctl itself refuses (reference §4.3)

# Passwords travel in everestctl's argv (reference §8.3). Linux caps one argument at 128 KiB (MAX_ARG_STRLEN) and the
# whole argv plus environment at ARG_MAX; Everest itself has no maximum. 4096 characters is far beyond any password
# a person or a generator uses and far below what argv can carry, and it is checked before any lock is taken.
PASSWORD_MAX_LENGTH = 4096
PASSWORD_LENGTH_ERROR = (
    'password is longer than %d characters; everestctl receives it on its command line, so the collection caps its length' % PASSWORD_MAX_LENGTH
)
# The ResourceQuota and TenantResourcePolicy counts a tenant may be given (max_clusters, max_db_users): a count above
# this is a typo, not a plan (Kubernetes would accept up to 2^63-1).
MAX_COUNT_LIMIT = 100000

# Everest's error texts, verbatim (reference §2.2, §4.3)
USERNAME_ERROR = 'username may contain only letters, numbers, underscores, and must be at least 3 characters long'
PASSWORD_ERROR = 'password may contain only letters, numbers and specific special characters (@*#$%^&+=!_-), and must be at least 6 characters long'
NAMESPACE_RESERVED_ERROR = "'{0}' namespace is reserved for Everest internals. Please specify another namespace"
NAMESPACE_RFC1035_ERROR = (
    "'namespace name' is not RFC 1035 compatible. The name should contain only lowercase "
    "alphanumeric characters or '-', start with an alphabetic character, end with an "
    "alphanumeric character"
)
NAMESPACE_LIST_EMPTY_ERROR = 'namespace list is empty. Specify at least one namespace'
OBJECT_NAME_ERROR = (
    "'{0}' is not RFC 1035 compatible or longer than 22 characters. The name should contain only "
    "lowercase alphanumeric characters or '-', start with an alphabetic character, end with an "
    "alphanumeric character"
)
NO_OPERATORS_ERROR = 'no operators selected for installation. Minimum one operator must be selected'


def _is_text(value):
    return isinstance(value, str)


def check_username(value):
    """None, or Everest's error text for an invalid account name."""
    if not _is_text(value) or not USERNAME_RE.match(value):
        return USERNAME_ERROR
    return None


def check_password(value):
    """None, or Everest's error text for an invalid password (or our length cap). Never contains the value."""
    if _is_text(value) and len(value) > PASSWORD_MAX_LENGTH:
        return PASSWORD_LENGTH_ERROR
    if not _is_text(value) or not PASSWORD_RE.match(value):
        return PASSWORD_ERROR
    return None


def reserved_namespace_pattern(name, extra=()):
    """The reserved pattern ``name`` matches (Everest's, Kubernetes', ``default``, plus ``extra``), or None.

    No tenant may take over, adopt or remove such a namespace, whatever the options say."""
    for pattern in tuple(RESERVED_NAMESPACE_PATTERNS) + tuple(extra or ()):
        if _is_text(name) and fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def check_tenant_namespace(name, extra=()):
    """None, or why ``name`` cannot be a tenant's database namespace (Everest's rules, then the reserved list)."""
    error = check_namespace(name)
    if error:
        return error
    pattern = reserved_namespace_pattern(name, extra)
    if pattern:
        return (
            "'%s' is a reserved namespace (matches '%s': Everest's and Kubernetes' own namespaces, default, and the "
            "configured reserved_namespaces); no tenant may take it over or remove it" % (name, pattern)
        )
    return None


def check_tenant_name(value):
    """None, or why ``value`` cannot name a tenant (it is the value of the tenant label on the tenant's objects)."""
    if not _is_text(value) or not value or len(value) > 63 or not LABEL_VALUE_RE.match(value):
        return "tenant name %r must be a Kubernetes label value: 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit" % (value,)
    return None


def is_reserved_namespace(value):
    return value in RESERVED_NAMESPACES


def check_namespace(value):
    """None, or Everest's error text: reserved names first, then RFC 1035 (reference §4.3 order)."""
    if not _is_text(value):
        return NAMESPACE_RFC1035_ERROR
    if value in RESERVED_NAMESPACES:
        return NAMESPACE_RESERVED_ERROR.format(value)
    if len(value) > NAMESPACE_MAX_LENGTH or not NAMESPACE_RE.match(value):
        return NAMESPACE_RFC1035_ERROR
    return None


def check_label(key, value):
    """None, or why ``key: value`` is not a valid Kubernetes label (the API server's own rules)."""
    if not _is_text(key) or not key:
        return 'label key %r must be a non-empty string' % (key,)
    prefix, sep, name = key.rpartition('/')
    if sep and (not prefix or len(prefix) > DNS_SUBDOMAIN_MAX_LENGTH or not DNS_SUBDOMAIN_RE.match(prefix)):
        return "label key '%s': the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most %d characters)" % (
            key,
            DNS_SUBDOMAIN_MAX_LENGTH,
        )
    if len(name) > LABEL_NAME_MAX_LENGTH or not LABEL_NAME_RE.match(name):
        return "label key '%s': the name must be at most %d characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit" % (
            key,
            LABEL_NAME_MAX_LENGTH,
        )
    if not _is_text(value) or (value and not LABEL_VALUE_RE.match(value)):
        return (
            "label '%s': value %r must be empty or at most 63 characters of letters, digits, '-', '_' and '.', starting "
            "and ending with a letter or digit" % (key, value)
        )
    return None


def check_object_name(value):
    """None, or an error for an Everest REST object name (RFC 1035, at most 22 characters; reference §6.3)."""
    if not _is_text(value) or len(value) > OBJECT_NAME_MAX_LENGTH or not OBJECT_NAME_RE.match(value):
        return OBJECT_NAME_ERROR.format(value if _is_text(value) else repr(value))
    return None


def check_sso_name(value):
    """None, or why ``value`` cannot be bound as an IdP group or OIDC subject (reference §9.1, §9.4).

    Everest compares the token's ``sub`` and ``groups`` with the policy byte for byte, in one name space shared with
    local accounts and roles; the names refused here either can never match (white space the CSV reader keeps), would
    need CSV quoting (a comma or a quote: the collection renders lines unquoted), are refused as a policy term by some
    Everest version (``|``, spaces, non-ASCII), or would be a role (``role:...``)."""
    if not _is_text(value) or value == '':
        return 'must be a non-empty string'
    if value != value.strip():
        return 'has leading or trailing white space: Everest compares names byte for byte, so it would never match the name the IdP sends'
    if value.startswith('role:'):
        return "starts with 'role:', the prefix of Everest's role names: a group or subject of that name would get the role's rules directly"
    if SSO_NAME_RE.match(value):
        return None
    if value.startswith('-') and SSO_NAME_RE.match('x' + value[1:]):
        return "starts with '-': everestctl would read it as a flag, so `settings rbac can` could never be asked about it"
    bad = sorted(set(ch for ch in value if not SSO_NAME_RE.match('x' + ch)))
    why = (
        "'*' looks like a wildcard but Everest matches subjects literally"
        if bad == ['*']
        else 'a comma or a quote would need CSV quoting, and white space, | and non-ASCII characters are refused in a policy term by some Everest versions'
    )
    return 'contains %s; accepted: %s (the characters every known Everest version accepts in a policy subject): %s' % (
        ' '.join(repr(ch) for ch in bad),
        SSO_NAME_CHARS,
        why,
    )
