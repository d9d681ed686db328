"""Unit tests of _accounts: parsing of Everest's accounts Secret, the hash, decisions and the converge loop.

Only the boundaries are faked: the Kubernetes client (a dict of objects) and everestctl (a tiny in-memory
implementation of reference §3 with scripted failures)."""

import base64
import copy
import hashlib
import random

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts as acc
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError, ValidationError

SALT = "5f0c7d38-6c3e-4e5b-9a49-0d2d6b2f6b11"


def go_hash(password, salt=SALT):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 4096, 32)


def users_yaml(users):
    """users.yaml as Go's yaml.v2 writes it (sorted names, field order, !!binary for non-UTF-8 hashes)."""
    lines = []
    for name in sorted(users):
        entry = users[name]
        lines.append("%s:" % name)
        lines.append("  enabled: %s" % ("true" if entry.get("enabled", True) else "false"))
        lines.append("  capabilities:")
        for cap in entry.get("capabilities", ["login"]):
            lines.append("  - %s" % cap)
        if entry.get("mtime"):
            lines.append('  passwordMtime: "%s"' % entry["mtime"])
        stored = entry["stored"]
        if isinstance(stored, bytes):
            try:
                text = stored.decode("utf-8")
                lines.append('  passwordHash: "%s"' % text.encode("unicode_escape").decode("ascii").replace('"', '\\"'))
            except UnicodeDecodeError:
                lines.append("  passwordHash: !!binary %s" % base64.b64encode(stored).decode())
        else:
            lines.append("  passwordHash: %s" % stored)
    return "\n".join(lines) + "\n"


def make_secret(users, plain=()):
    annotations = dict(("insecure-password/%s" % u, "true") for u in plain)
    return {
        "metadata": {"name": "everest-accounts", "namespace": "everest-system", "annotations": annotations, "resourceVersion": "1"},
        "data": {"users.yaml": base64.b64encode(users_yaml(users).encode()).decode()},
    }


class FakeClient:
    def __init__(self, users=None, plain=(), salt=SALT):
        self.users = copy.deepcopy(users or {})
        self.plain = set(plain)
        self.salt = salt
        self.calls = []

    def get_or_none(self, path):
        self.calls.append(path)
        if path == acc.SECRET_PATH:
            return make_secret(self.users, self.plain)
        if path == acc.SYSTEM_NAMESPACE_PATH:
            return {"metadata": {"name": "everest-system", "uid": self.salt}}
        return None


class Result:
    def __init__(self, cmd):
        self.rc, self.stdout, self.stderr, self.cmd = 0, "", "", cmd


class FakeEverestctl:
    """reference §3 semantics on FakeClient; ``script`` = list of error kinds to raise before doing anything,
    ``after`` = callables run after a successful write (to simulate a concurrent writer)."""

    def __init__(self, client, script=(), after=()):
        self.client = client
        self.script = list(script)
        self.after = list(after)
        self.runs = []

    def _masked(self, shape, values):
        argv = ["everestctl"] + shape.split("_", 1)
        argv += ["-u", values["username"]]
        if "password" in values:
            argv += ["-p", "********"]
        return argv

    def preview(self, shape, **values):
        return self._masked(shape, values)

    def run(self, shape, **values):
        self.runs.append((shape, dict(values)))
        if self.script:
            kind = self.script.pop(0)
            if kind:
                raise EverestctlError("everestctl failed: " + kind, kind=kind, rc=1, cmd=self._masked(shape, values))
        user = values["username"]
        users = self.client.users
        if shape == "accounts_create":
            if user in users:
                raise EverestctlError("user already exists", kind="already_exists", rc=1)
            users[user] = {"enabled": True, "capabilities": ["login"], "mtime": "2026-11-23T10:00:00Z", "stored": go_hash(values["password"], self.client.salt)}
            self.client.plain.discard(user)
        elif shape == "accounts_set_password":
            if user not in users:
                raise EverestctlError("account not found", kind="not_found", rc=1)
            users[user]["stored"] = go_hash(values["password"], self.client.salt)
            users[user]["mtime"] = "2026-11-23T11:00:00Z"
            self.client.plain.discard(user)
        elif shape == "accounts_delete":
            if user not in users:
                raise EverestctlError("account not found", kind="not_found", rc=1)
            del users[user]
        if self.after:
            self.after.pop(0)(self.client)
        return Result(self._masked(shape, values))


def converge(client, runner, **want):
    want.setdefault("state", "present")
    want.setdefault("update_password", "always")
    return acc.converge_account(acc.AccountStore(client), runner, want, sleep=lambda s: None, rng=random.Random(7))


def assert_no_secret(obj, *secrets):
    text = repr(obj)
    for secret in secrets:
        assert secret not in text
        assert base64.b64encode(go_hash(secret)).decode() not in text


# --------------------------------------------------------------------------------------------- hashing / parsing


def test_pbkdf2_known_vector():
    # PBKDF2-HMAC-SHA256("password", "salt", 4096, 32), a published test vector
    assert acc.hash_password("password", "salt").hex() == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"


def test_parse_binary_hash_and_fields():
    secret = make_secret({"alice": {"stored": go_hash("alice-pass1"), "mtime": "2026-01-02T03:04:05+01:00", "capabilities": ["login", "apiKey"]}})
    users = acc.parse_accounts_secret(secret)
    alice = users["alice"]
    assert alice["enabled"] is True
    assert alice["capabilities"] == ["login", "apiKey"]
    assert alice["password_mtime"] == "2026-01-02T03:04:05+01:00"
    assert alice["stored"] == go_hash("alice-pass1")
    assert alice["plain"] is False


def test_parse_utf8_hash_written_as_quoted_string():
    stored = "a\x01b\u00e9c".encode("utf-8")  # a (rare) hash that happens to be valid UTF-8
    users = acc.parse_accounts_secret(make_secret({"bob": {"stored": stored}}))
    assert users["bob"]["stored"] == stored


def test_plain_password_keeps_its_text_exactly():
    # YAML 1.1 would turn these into numbers/booleans; Everest compares the text
    for value in ("012345", "123456", "yes_no", "1e10ab", "0x1234ff"):
        users = acc.parse_accounts_secret(make_secret({"admin": {"stored": value}}, plain=["admin"]))
        assert users["admin"]["stored"] == value.encode()
        assert users["admin"]["plain"] is True
        assert acc.password_matches(users["admin"], value, lambda: pytest.fail("no salt needed for plain text"))


def test_initial_admin_shape_without_mtime():
    text = "admin:\n  passwordHash: Zx9AbcdEf0\n  enabled: true\n  capabilities: [login]\n"
    secret = {"metadata": {"annotations": {"insecure-password/admin": "true"}}, "data": {"users.yaml": base64.b64encode(text.encode()).decode()}}
    admin = acc.parse_accounts_secret(secret)["admin"]
    assert admin["password_mtime"] is None and admin["plain"] is True and admin["capabilities"] == ["login"]


def test_annotation_with_any_value_means_plain():
    secret = make_secret({"admin": {"stored": "plainpw1"}})
    secret["metadata"]["annotations"]["insecure-password/admin"] = "false"
    assert acc.parse_accounts_secret(secret)["admin"]["plain"] is True


@pytest.mark.parametrize("data", [None, {}, {"users.yaml": ""}])
def test_empty_secret(data):
    assert acc.parse_accounts_secret({"metadata": {}, "data": data}) == {}


def test_garbage_yaml_is_a_clear_error():
    secret = {"metadata": {}, "data": {"users.yaml": base64.b64encode(b"admin: [unclosed").decode()}}
    with pytest.raises(EverestError, match="not valid YAML"):
        acc.parse_accounts_secret(secret)
    secret = {"metadata": {}, "data": {"users.yaml": base64.b64encode(b"- a\n- b\n").decode()}}
    with pytest.raises(EverestError, match="not a map"):
        acc.parse_accounts_secret(secret)


def test_password_matches_uses_salt_lazily_and_once():
    client = FakeClient({"u1": {"stored": go_hash("first-pass")}, "u2": {"stored": go_hash("other-pass")}})
    store = acc.AccountStore(client)
    users = store.read()
    assert acc.password_matches(users["u1"], "first-pass", store.salt)
    assert not acc.password_matches(users["u1"], "first-pasS", store.salt)
    assert acc.password_matches(users["u2"], "other-pass", store.salt)
    assert client.calls.count(acc.SYSTEM_NAMESPACE_PATH) == 1


class UidClient(FakeClient):
    """The Secret carries a UID (the salt cache's key)."""

    secret_uid = "secret-uid-1"

    def get_or_none(self, path):
        obj = super(UidClient, self).get_or_none(path)
        if path == acc.SECRET_PATH:
            obj["metadata"]["uid"] = self.secret_uid
        return obj


def test_salt_cache_skips_the_namespace_read_for_the_same_secret():
    client = UidClient({"u1": {"stored": go_hash("first-pass")}})
    first = acc.AccountStore(client, salt_cache=True)
    assert acc.password_matches(first.read()["u1"], "first-pass", first.salt) and first.salt_reads == 1
    again = acc.AccountStore(client, salt_cache=True)  # the next task, or the next run
    client.calls.clear()
    assert acc.password_matches(again.read()["u1"], "first-pass", again.salt)
    assert again.salt_reads == 0 and client.calls == [acc.SECRET_PATH]


def test_salt_cache_never_serves_a_recreated_secret():
    """Everest re-installed (or restored): new everest-system UID, new Secret UID -> the salt is read again."""
    client = UidClient({"u1": {"stored": go_hash("first-pass")}})
    store = acc.AccountStore(client, salt_cache=True)
    store.read()
    assert store.salt() == SALT
    client.secret_uid, client.salt = "secret-uid-2", "0d7e6a52-1111-4e5b-9a49-0d2d6b2f6b11"
    client.users = {"u1": {"stored": go_hash("first-pass", salt=client.salt)}}
    fresh = acc.AccountStore(client, salt_cache=True)
    assert acc.password_matches(fresh.read()["u1"], "first-pass", fresh.salt)
    assert fresh.salt_reads == 1 and fresh.salt() == client.salt


def test_salt_cache_off_by_default_and_corrupt_entries_ignored(tmp_path):
    from ansible_collections.virakcloud.everest.plugins.module_utils import _cache

    client = UidClient({"u1": {"stored": go_hash("first-pass")}})
    plain = acc.AccountStore(client)
    plain.read()
    plain.salt()
    assert acc.AccountStore(client).salt_reads == 0 and _cache.load(acc.SALT_CACHE_KIND, "secret-uid-1") is None
    path = _cache.cache_file(acc.SALT_CACHE_KIND, "secret-uid-1")
    import os

    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("{broken")
    store = acc.AccountStore(client, salt_cache=True)
    store.read()
    assert store.salt() == SALT and store.salt_reads == 1
    assert _cache.load(acc.SALT_CACHE_KIND, "secret-uid-1") == SALT  # repaired


def test_missing_secret_says_everest_not_installed():
    class Empty(FakeClient):
        def get_or_none(self, path):
            return None

    with pytest.raises(EverestError, match="not installed"):
        acc.AccountStore(Empty()).read()
    with pytest.raises(EverestError, match="everest-system"):
        acc.AccountStore(Empty()).salt()


# --------------------------------------------------------------------------------------------- validation / decide


@pytest.mark.parametrize(
    "want,match",
    [
        ({"username": "ab", "password": "secret1"}, "letters, numbers, underscores"),
        ({"username": "bad-name", "password": "secret1"}, "letters, numbers, underscores"),
        ({"username": "tenant", "password": "short"}, "at least 6 characters"),
        ({"username": "tenant", "password": "has space"}, "specific special characters"),
        ({"username": "admin", "state": "absent"}, "allow_admin_removal"),
    ],
)
def test_validate_item_rejects(want, match):
    with pytest.raises(ValidationError, match=match) as info:
        acc.validate_item(want)
    if want.get("password"):
        assert want["password"] not in str(info.value)


def test_validate_item_accepts():
    acc.validate_item({"username": "admin", "state": "absent", "allow_admin_removal": True})
    acc.validate_item({"username": "tenant", "state": "absent", "password": "x"})  # password unused for absent
    acc.validate_item({"username": "tenant", "password": "good-pass"})


ACCOUNT = {"enabled": True, "capabilities": ["login"], "stored": b"x", "plain": False}


@pytest.mark.parametrize(
    "account,want,matches,action,error",
    [
        (None, {"state": "present", "password": "pw1234"}, False, "create", False),
        (None, {"state": "present", "password": None}, False, "none", True),
        (ACCOUNT, {"state": "present", "password": "pw1234"}, True, "none", False),
        (ACCOUNT, {"state": "present", "password": "pw1234"}, False, "set_password", False),
        (ACCOUNT, {"state": "present", "password": "pw1234", "update_password": "on_create"}, False, "none", False),
        (ACCOUNT, {"state": "present", "password": None}, False, "none", False),
        (ACCOUNT, {"state": "absent"}, False, "delete", False),
        (None, {"state": "absent"}, False, "none", False),
    ],
)
def test_decide(account, want, matches, action, error):
    want = dict(want, username="tenant")
    decision = acc.decide(account, want, lambda a, p: matches)
    assert decision.action == action
    assert bool(decision.error) is error


def test_decide_does_not_hash_when_not_needed():
    def boom(account, password):
        raise AssertionError("hash computed")

    assert acc.decide(ACCOUNT, {"username": "u_1", "password": "pw1234", "update_password": "on_create"}, boom).action == "none"
    assert acc.decide(ACCOUNT, {"username": "u_1", "state": "absent"}, boom).action == "delete"


# --------------------------------------------------------------------------------------------- converge


def test_noop_reads_secret_and_salt_only_and_runs_nothing():
    client = FakeClient({"tenant": {"stored": go_hash("tenant-pass")}})
    runner = FakeEverestctl(client)
    result = converge(client, runner, username="tenant", password="tenant-pass")
    assert result["changed"] is False and result["action"] == "none"
    assert runner.runs == []
    assert client.calls == [acc.SECRET_PATH, acc.SYSTEM_NAMESPACE_PATH]
    assert result["before"] == result["after"] == {"exists": True, "enabled": True, "capabilities": ["login"], "password": "<unchanged>"}


def test_noop_on_create_reads_only_the_secret():
    client = FakeClient({"tenant": {"stored": go_hash("tenant-pass")}})
    converge(client, FakeEverestctl(client), username="tenant", password="other-pass", update_password="on_create")
    assert client.calls == [acc.SECRET_PATH]


def test_create_then_verified():
    client = FakeClient({})
    runner = FakeEverestctl(client)
    result = converge(client, runner, username="tenant", password="tenant-pass")
    assert result["changed"] is True and result["action"] == "create"
    assert [r[0] for r in runner.runs] == ["accounts_create"]
    assert result["account"] == {
        "username": "tenant",
        "exists": True,
        "enabled": True,
        "capabilities": ["login"],
        "password_mtime": "2026-11-23T10:00:00Z",
        "plain_text_password": False,
    }
    assert result["cmd"] == ["everestctl", "accounts", "create", "-u", "tenant", "-p", "********"]
    assert result["after"]["password"] == "<changed>" and result["before"]["exists"] is False
    assert client.users["tenant"]["stored"] == go_hash("tenant-pass")
    assert_no_secret(result, "tenant-pass")


def test_set_password_on_difference_and_plain_admin():
    client = FakeClient({"admin": {"stored": "initial-admin-pw"}}, plain=["admin"])
    runner = FakeEverestctl(client)
    same = converge(client, runner, username="admin", password="initial-admin-pw")
    assert same["changed"] is False and same["account"]["plain_text_password"] is True and runner.runs == []
    changed = converge(client, runner, username="admin", password="new-admin-pw")
    assert changed["changed"] is True and changed["action"] == "set_password"
    assert changed["account"]["plain_text_password"] is False
    assert acc.password_matches(acc.AccountStore(client).read()["admin"], "new-admin-pw", lambda: SALT)
    assert_no_secret(changed, "new-admin-pw", "initial-admin-pw")


def test_check_mode_runs_nothing_and_predicts():
    client = FakeClient({"old": {"stored": go_hash("old-pass1")}})
    runner = FakeEverestctl(client)
    store = acc.AccountStore(client)
    for want, action in (
        ({"username": "fresh", "password": "fresh-pass"}, "create"),
        ({"username": "old", "password": "new-pass1"}, "set_password"),
        ({"username": "old", "state": "absent"}, "delete"),
    ):
        want = dict({"state": "present", "update_password": "always"}, **want)
        result = acc.converge_account(store, runner, want, check_mode=True)
        assert result["changed"] is True and result["action"] == action
        assert result["cmd"][:3] == ["everestctl", "accounts", action]
        assert "fresh-pass" not in result["cmd"] and "new-pass1" not in result["cmd"]
    assert runner.runs == []
    assert set(client.users) == {"old"}
    assert client.users["old"]["stored"] == go_hash("old-pass1")


def test_conflicts_are_retried_with_backoff():
    client = FakeClient({})
    runner = FakeEverestctl(client, script=["conflict", "conflict", "conflict"])
    sleeps = []
    result = acc.converge_account(
        acc.AccountStore(client),
        runner,
        {"username": "tenant", "password": "tenant-pass", "state": "present", "update_password": "always"},
        sleep=sleeps.append,
        rng=random.Random(1),
    )
    assert result["changed"] is True and len(runner.runs) == 4 and len(sleeps) == 3
    assert "tenant" in client.users


def test_conflicts_give_up_after_attempts():
    client = FakeClient({})
    runner = FakeEverestctl(client, script=["conflict"] * 20)
    with pytest.raises(EverestError, match="after 8 attempts") as info:
        converge(client, runner, username="tenant", password="tenant-pass")
    assert len(runner.runs) == 8
    assert "tenant-pass" not in repr(info.value.__dict__)


def test_already_exists_race_then_password_compared():
    client = FakeClient({})

    class Racing(FakeEverestctl):
        def run(self, shape, **values):
            if shape == "accounts_create" and not self.runs:
                # another writer created it first, with another password
                self.client.users["tenant"] = {"stored": go_hash("someone-else")}
            return super().run(shape, **values)

    runner = Racing(client)
    result = converge(client, runner, username="tenant", password="tenant-pass")
    assert [r[0] for r in runner.runs] == ["accounts_create", "accounts_set_password"]
    assert result["changed"] is True and client.users["tenant"]["stored"] == go_hash("tenant-pass")

    client2 = FakeClient({})
    runner2 = Racing(client2)
    result2 = converge(client2, runner2, username="tenant", password="tenant-pass", update_password="on_create")
    assert [r[0] for r in runner2.runs] == ["accounts_create"]
    assert result2["changed"] is False  # the other writer created it; on_create leaves its password alone


def test_lost_create_is_detected_and_redone():
    # reference §3: a concurrent delete writes the map from its first read and drops our fresh account
    client = FakeClient({})
    runner = FakeEverestctl(client, after=[lambda c: c.users.pop("tenant")])
    result = converge(client, runner, username="tenant", password="tenant-pass")
    assert [r[0] for r in runner.runs] == ["accounts_create", "accounts_create"]
    assert result["changed"] is True and "tenant" in client.users


def test_overwritten_password_is_detected_and_reset():
    client = FakeClient({"tenant": {"stored": go_hash("old-pass1")}})
    runner = FakeEverestctl(client, after=[lambda c: c.users["tenant"].update(stored=go_hash("old-pass1"))])
    converge(client, runner, username="tenant", password="new-pass1")
    assert [r[0] for r in runner.runs] == ["accounts_set_password", "accounts_set_password"]
    assert client.users["tenant"]["stored"] == go_hash("new-pass1")


def test_set_password_not_found_race_creates():
    client = FakeClient({"tenant": {"stored": go_hash("old-pass1")}})

    class Deleting(FakeEverestctl):
        def run(self, shape, **values):
            if shape == "accounts_set_password":
                self.client.users.pop("tenant", None)
            return super().run(shape, **values)

    runner = Deleting(client)
    result = converge(client, runner, username="tenant", password="new-pass1")
    assert [r[0] for r in runner.runs] == ["accounts_set_password", "accounts_create"]
    assert result["changed"] is True and client.users["tenant"]["stored"] == go_hash("new-pass1")


def test_delete_and_delete_not_found_race():
    client = FakeClient({"tenant": {"stored": go_hash("old-pass1")}})
    runner = FakeEverestctl(client)
    result = converge(client, runner, username="tenant", state="absent")
    assert result["changed"] is True and result["account"]["exists"] is False and "tenant" not in client.users
    again = converge(client, runner, username="tenant", state="absent")
    assert again["changed"] is False and len(runner.runs) == 1

    client2 = FakeClient({"tenant": {"stored": go_hash("old-pass1")}})
    runner2 = FakeEverestctl(client2, script=["not_found"])  # noqa: F841
    client2.users.pop("tenant")  # gone between our read and the command: read happens in converge first
    client2.users["tenant"] = {"stored": go_hash("old-pass1")}

    class GoneFirst(FakeEverestctl):
        def run(self, shape, **values):
            self.client.users.pop("tenant", None)
            return super().run(shape, **values)

    result2 = converge(client2, GoneFirst(client2), username="tenant", state="absent")
    assert result2["changed"] is False and "tenant" not in client2.users


def test_resurrected_account_is_deleted_again():
    client = FakeClient({"tenant": {"stored": go_hash("old-pass1")}})
    runner = FakeEverestctl(client, after=[lambda c: c.users.__setitem__("tenant", {"stored": go_hash("old-pass1")})])
    converge(client, runner, username="tenant", state="absent")
    assert [r[0] for r in runner.runs] == ["accounts_delete", "accounts_delete"] and "tenant" not in client.users


def test_unknown_everestctl_error_propagates():
    client = FakeClient({})
    runner = FakeEverestctl(client, script=["not_installed"])
    with pytest.raises(EverestctlError) as info:
        converge(client, runner, username="tenant", password="tenant-pass")
    assert info.value.kind == "not_installed" and len(runner.runs) == 1


def test_create_without_password_fails_clearly():
    client = FakeClient({})
    with pytest.raises(ValidationError, match="does not exist and no password"):
        converge(client, FakeEverestctl(client), username="tenant", password=None)


# --------------------------------------------------------------------------------------------- batch / info


def test_batch_reads_secret_once_and_reports_each_item():
    client = FakeClient({"keep": {"stored": go_hash("keep-pass")}, "gone": {"stored": go_hash("gone-pass")}})
    runner = FakeEverestctl(client)
    wants = [
        {"username": "keep", "password": "keep-pass", "state": "present", "update_password": "always"},
        {"username": "gone", "state": "absent"},
        {"username": "nopw", "password": None, "state": "present", "update_password": "always"},
        {"username": "fresh", "password": "fresh-pass", "state": "present", "update_password": "always"},
    ]
    results = acc.converge_accounts(acc.AccountStore(client), runner, wants, sleep=lambda s: None)
    assert [r["changed"] for r in results] == [False, True, False, True]
    assert results[2]["failed"] is True and "nopw" in results[2]["msg"]
    assert [r[0] for r in runner.runs] == ["accounts_delete", "accounts_create"]
    # one read for the batch + one verification read per item that acted
    assert client.calls.count(acc.SECRET_PATH) == 3
    assert client.calls.count(acc.SYSTEM_NAMESPACE_PATH) == 1
    assert_no_secret(results, "keep-pass", "gone-pass", "fresh-pass")


def test_batch_unchanged_runs_nothing():
    users = dict(("user_%02d" % i, {"stored": go_hash("pass-%02d" % i)}) for i in range(30))
    client = FakeClient(users)
    runner = FakeEverestctl(client)
    wants = [{"username": "user_%02d" % i, "password": "pass-%02d" % i, "state": "present", "update_password": "always"} for i in range(30)]
    results = acc.converge_accounts(acc.AccountStore(client), runner, wants)
    assert not any(r["changed"] for r in results) and runner.runs == []
    assert client.calls == [acc.SECRET_PATH, acc.SYSTEM_NAMESPACE_PATH]


def test_list_accounts_never_exposes_hash():
    client = FakeClient({"zed": {"stored": go_hash("zed-pass1")}, "admin": {"stored": "plain-admin"}}, plain=["admin"])
    store = acc.AccountStore(client)
    views = acc.list_accounts(store)
    assert [v["username"] for v in views] == ["admin", "zed"]
    assert views[0]["plain_text_password"] is True and views[1]["plain_text_password"] is False
    assert set(views[1]) == {"username", "exists", "enabled", "capabilities", "password_mtime", "plain_text_password"}
    assert_no_secret(views, "zed-pass1", "plain-admin")
    assert acc.list_accounts(store, "zed")[0]["username"] == "zed"
    assert acc.list_accounts(store, "nobody") == []


@pytest.mark.parametrize("start", ["missing", "same", "other", "plain_same", "plain_other"])
@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("password", [None, "wanted-pw1"])
@pytest.mark.parametrize("update_password", ["always", "on_create"])
def test_every_decision_converges(start, state, password, update_password):
    users, plain = {}, []
    if start in ("same", "other"):
        users["tenant"] = {"stored": go_hash("wanted-pw1" if start == "same" else "older-pw1")}
    elif start.startswith("plain"):
        users["tenant"] = {"stored": "wanted-pw1" if start == "plain_same" else "older-pw1"}
        plain = ["tenant"]
    client = FakeClient(users, plain=plain)
    runner = FakeEverestctl(client)
    want = {"username": "tenant", "password": password, "state": state, "update_password": update_password}
    if state == "present" and start == "missing" and password is None:
        with pytest.raises(ValidationError):
            acc.converge_account(acc.AccountStore(client), runner, want)
        assert runner.runs == []
        return
    result = acc.converge_account(acc.AccountStore(client), runner, want)
    assert len(runner.runs) <= 1 and result["changed"] is bool(runner.runs)
    store = acc.AccountStore(client)
    after = store.read().get("tenant")
    assert acc.decide(after, want, lambda a, p: acc.password_matches(a, p, store.salt)).action == "none"
    if state == "absent":
        assert after is None
    elif password and (update_password == "always" or start == "missing"):
        assert acc.password_matches(after, password, store.salt)
    elif start != "missing":
        assert after["stored"] == (users["tenant"]["stored"] if isinstance(users["tenant"]["stored"], bytes) else users["tenant"]["stored"].encode())
    expected_runs = {("missing", "present"): 1, ("same", "present"): 0, ("plain_same", "present"): 0}.get((start, state))
    if state == "absent":
        expected_runs = 0 if start == "missing" else 1
    elif expected_runs is None:
        expected_runs = 1 if password and update_password == "always" else 0
    assert len(runner.runs) == expected_runs
