"""Unit tests of _validation: Everest's input rules (reference §2.2, §4.3, §6.3) and their error texts."""

import re
import string

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.virakcloud.everest.plugins.module_utils import _validation as v

USERNAME_ALPHABET = string.ascii_letters + string.digits + "_"
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "@*#$%^&+=!_-"

# Go's regexp semantics, written independently: '$' is end of text, so fullmatch on the raw pattern body.
GO_USERNAME = re.compile(r"[a-zA-Z0-9_]{3,}")
GO_PASSWORD = re.compile(r"[a-zA-Z0-9@*#$%^&+=!_\-]{6,}")
GO_NAMESPACE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.mark.parametrize(
    "value,ok",
    [
        ("abc", True),
        ("a_b", True),
        ("___", True),
        ("Tenant_01", True),
        ("x" * 500, True),
        ("ab", False),
        ("", False),
        ("ab-c", False),
        ("a.bc", False),
        ("abc ", False),
        ("abc\n", False),
        ("ädmin", False),
        (None, False),
        (123, False),
    ],
)
def test_username(value, ok):
    assert (v.check_username(value) is None) is ok
    if not ok:
        assert v.check_username(value) == v.USERNAME_ERROR


def test_error_texts_are_everests_verbatim():
    assert v.USERNAME_ERROR == ("username may contain only letters, numbers, underscores, and must be at least 3 characters long")
    assert v.PASSWORD_ERROR == (
        "password may contain only letters, numbers and specific special characters (@*#$%^&+=!_-), and must be at least 6 characters long"
    )
    assert v.check_namespace("everest-olm") == ("'everest-olm' namespace is reserved for Everest internals. Please specify another namespace")
    assert v.check_namespace("Bad") == (
        "'namespace name' is not RFC 1035 compatible. The name should contain only lowercase alphanumeric characters "
        "or '-', start with an alphabetic character, end with an alphanumeric character"
    )


@pytest.mark.parametrize(
    "value,ok",
    [
        ("secret", True),
        ("p@ss-w0rd!", True),
        ("@*#$%^&+=!_-", True),
        ("a" * 1000, True),
        ("short", False),
        ("with space", False),
        ("semi;colon", False),
        ("quote'd1", False),
        ("pässwort", False),
        ("secret\n", False),
        ("", False),
        (None, False),
    ],
)
def test_password(value, ok):
    assert (v.check_password(value) is None) is ok
    if not ok:
        error = v.check_password(value)
        assert error == v.PASSWORD_ERROR
        if value:
            assert value not in error  # the value is never echoed


@pytest.mark.parametrize(
    "value,expected",
    [
        ("acme-db", None),
        ("a", None),
        ("a" * 63, None),
        ("a1-b2", None),
        ("default", None),
        ("kube-system", None),
        ("everest-system", "reserved"),
        ("everest-monitoring", "reserved"),
        ("everest-olm", "reserved"),
        ("a" * 64, "rfc"),
        ("1abc", "rfc"),
        ("abc-", "rfc"),
        ("-abc", "rfc"),
        ("Abc", "rfc"),
        ("a_b", "rfc"),
        ("a.b", "rfc"),
        ("", "rfc"),
        ("abc\n", "rfc"),
        (None, "rfc"),
    ],
)
def test_namespace(value, expected):
    error = v.check_namespace(value)
    if expected is None:
        assert error is None
    elif expected == "reserved":
        assert error == v.NAMESPACE_RESERVED_ERROR.format(value)
        assert v.is_reserved_namespace(value)
    else:
        assert error == v.NAMESPACE_RFC1035_ERROR


def test_reserved_is_checked_before_rfc1035():
    # all reserved names are also valid RFC 1035 labels, so the reserved text proves the order
    for name in v.RESERVED_NAMESPACES:
        assert GO_NAMESPACE.fullmatch(name)
        assert "reserved" in v.check_namespace(name)


@pytest.mark.parametrize(
    "value,ok",
    [
        ("s3-main", True),
        ("a" * 22, True),
        ("a" * 23, False),
        ("S3", False),
        ("3s", False),
        ("b-", False),
        ("", False),
    ],
)
def test_object_name(value, ok):
    error = v.check_object_name(value)
    assert (error is None) is ok
    if not ok:
        assert "RFC 1035" in error and "22" in error


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=USERNAME_ALPHABET + "-. \n\tä", max_size=12))
def test_username_matches_go_semantics(value):
    assert (v.check_username(value) is None) == bool(GO_USERNAME.fullmatch(value))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=PASSWORD_ALPHABET + " ;'\"\n\\/~", max_size=12))
def test_password_matches_go_semantics(value):
    assert (v.check_password(value) is None) == bool(GO_PASSWORD.fullmatch(value))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=string.ascii_lowercase[:4] + string.digits[:3] + "-A_\n", max_size=70))
def test_namespace_matches_go_semantics(value):
    expected_ok = bool(GO_NAMESPACE.fullmatch(value)) and value not in v.RESERVED_NAMESPACES
    assert (v.check_namespace(value) is None) == expected_ok


def test_constants_exposed():
    assert v.USERNAME_RE.match("abc") and not v.USERNAME_RE.match("abc\n")
    assert v.PASSWORD_RE.match("secret") and not v.PASSWORD_RE.match("secret\n")
    assert v.NAMESPACE_RE.match("ns-a") and not v.NAMESPACE_RE.match("ns-a\n")
    assert v.RESERVED_NAMESPACES == ("everest-system", "everest-monitoring", "everest-olm")
