"""Unit tests of tenant_admission_policy: create, no-op, upgrade, removal, check mode, diff, an API server without
ValidatingAdmissionPolicy, the CRD prerequisite. Boundary faked: the Kubernetes client (``_k8s.client_from_params``),
with the API server's defaulting of the policy (fields added, none removed)."""

import copy
import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _admission, _admission_manifest, _k8s
from ansible_collections.virakcloud.everest.plugins.modules import tenant_admission_policy
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sAlreadyExists, K8sNotFound

REPO = Path(__file__).resolve().parents[4]
GV = "/apis/admissionregistration.k8s.io/v1"


class FakeApi:
    def __init__(self, served=True, crd=True):
        self.served = served
        self.objects = {}
        self.writes = []
        self.crd = crd
        self.secrets = []
        self.rv = 0

    def get(self, path):
        if path == GV:
            if not self.served:
                raise K8sNotFound("404 page not found")
            return {"resources": [{"name": "validatingadmissionpolicies"}, {"name": "validatingadmissionpolicybindings"}]}
        obj = self.get_or_none(path)
        if obj is None:
            raise K8sNotFound(path)
        return obj

    def get_or_none(self, path):
        if path.endswith("tenantresourcepolicies.everest.local"):
            return {"status": {"conditions": [{"type": "Established", "status": "True"}]}} if self.crd else None
        return copy.deepcopy(self.objects.get(path))

    def _store(self, path, body):
        self.rv += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.rv)
        body["spec"].setdefault("failurePolicy", "Fail")  # the server's defaulting adds fields
        self.objects[path] = body
        return copy.deepcopy(body)

    def create(self, path, body):
        self.writes.append(("create", path))
        return self._store(path + "/" + body["metadata"]["name"], body)

    def replace(self, path, body):
        self.writes.append(("replace", path))
        return self._store(path, body)

    def delete(self, path, missing_ok=True, body=None):
        self.writes.append(("delete", path))
        self.objects.pop(path, None)

    def close(self):
        pass


@pytest.fixture
def api(monkeypatch):
    fake = FakeApi()
    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kw: fake)
    return fake


def run(args, capsys, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            tenant_admission_policy.main()
    return json.loads(capsys.readouterr().out)


def test_the_module_installs_exactly_the_shipped_manifest():
    assert _admission_manifest.MANIFEST == (REPO / "files" / "tenant-policy-admission.yaml").read_text()
    policy, binding = _admission.documents()
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert "namespace" not in binding["spec"]["paramRef"] and binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Allow"


def test_create_then_noop_then_upgrade_then_remove(api, capsys):
    check = run({}, capsys, check=True, diff=True)
    assert check["changed"] is True and api.writes == [] and len(check["actions"]) == 2
    assert check["diff"]["before"] == {"policy": None, "binding": None} and check["diff"]["after"]["binding"]["policyName"]
    first = run({}, capsys)
    assert first["changed"] is True and [w[0] for w in api.writes] == ["create", "create"]
    assert first["policy"]["name"] == "virakcloud-everest-tenant-resource-policy"
    api.writes.clear()
    again = run({}, capsys)
    assert again["changed"] is False and api.writes == []  # the server's defaults are not a difference
    # someone edited the policy: the next run restores it (an upgrade looks the same)
    path = GV + "/validatingadmissionpolicies/virakcloud-everest-tenant-resource-policy"
    api.objects[path]["spec"]["validations"] = []
    fixed = run({}, capsys, diff=True)
    assert fixed["changed"] is True and fixed["actions"] == ["update ValidatingAdmissionPolicy virakcloud-everest-tenant-resource-policy"]
    assert api.objects[path]["spec"]["validations"] == _admission.documents()[0]["spec"]["validations"]
    api.writes.clear()
    gone = run({"state": "absent"}, capsys)
    assert gone["changed"] is True and [w[0] for w in api.writes] == ["delete", "delete"]
    assert "bindings" in api.writes[0][1]  # the binding goes first
    assert run({"state": "absent"}, capsys)["changed"] is False


def test_an_api_server_without_admission_policies(api, capsys):
    api.served = False
    failed = run({}, capsys)
    assert failed["failed"] and "does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy" in failed["msg"]
    warned = run({"if_unsupported": "warn"}, capsys)
    assert warned["changed"] is False and warned["served"] is False and "upgrade the cluster" in json.dumps(warned["warnings"])
    assert api.writes == []


def test_the_crd_must_be_established_first(api, capsys):
    api.crd = False
    failed = run({}, capsys)
    assert failed["failed"] and "install it first with virakcloud.everest.tenant_resource_policy_crd" in failed["msg"]
    assert api.writes == []


def test_the_manifest_is_one_list_document():
    docs = list(yaml.safe_load_all((REPO / "files" / "tenant-policy-admission.yaml").read_text()))
    assert len(docs) == 1 and docs[0]["kind"] == "List" and len(docs[0]["items"]) == 2


def test_a_create_that_loses_the_race_converges_the_winners_object(api, capsys):
    """Two runs (AWX slices, two operators) install the policy at once: the second POST gets 409 AlreadyExists."""
    winner = _admission.documents()
    real_create = api.create

    def racing_create(path, body):
        if not api.writes:  # the other run's objects land between our GETs and our POST
            for plural, doc in zip(("validatingadmissionpolicies", "validatingadmissionpolicybindings"), winner):
                stale = copy.deepcopy(doc)
                if plural == "validatingadmissionpolicies":
                    stale["spec"]["validations"] = []  # an older version of the collection won
                api._store(GV + "/" + plural + "/" + doc["metadata"]["name"], stale)
        if body["metadata"]["name"] in [p.rsplit("/", 1)[-1] for p in api.objects]:
            api.writes.append(("create-refused", path))
            raise K8sAlreadyExists("%s already exists" % body["metadata"]["name"])
        return real_create(path, body)

    api.create = racing_create
    result = run({}, capsys)
    assert result["changed"] is True and result.get("failed") is not True
    assert result["actions"] == ["update ValidatingAdmissionPolicy virakcloud-everest-tenant-resource-policy"]
    policy_path = GV + "/validatingadmissionpolicies/virakcloud-everest-tenant-resource-policy"
    assert api.objects[policy_path]["spec"]["validations"] == winner[0]["spec"]["validations"]
