"""files/crd-tenantresourcepolicy.yaml and plugins/module_utils/_trp_crd.py must stay identical.

Run ``python tests/unit/plugins/module_utils/test_trp_crd.py --write`` to regenerate _trp_crd.py from the YAML file.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_crd  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants

YAML_FILE = ROOT / "files" / "crd-tenantresourcepolicy.yaml"
PY_FILE = ROOT / "plugins" / "module_utils" / "_trp_crd.py"


def test_python_copy_equals_yaml_file():
    assert _trp_crd.CRD_YAML == YAML_FILE.read_text(encoding="utf-8"), (
        "plugins/module_utils/_trp_crd.py is out of date; run: python tests/unit/plugins/module_utils/test_trp_crd.py --write"
    )


def test_constants_match_document():
    doc = yaml.safe_load(_trp_crd.CRD_YAML)
    assert doc["metadata"]["name"] == _constants.TRP_CRD_NAME == "%s.%s" % (_constants.TRP_PLURAL, _constants.TRP_GROUP)
    assert doc["spec"]["group"] == _constants.TRP_GROUP
    assert doc["spec"]["names"]["kind"] == _constants.TRP_KIND
    assert doc["spec"]["names"]["plural"] == _constants.TRP_PLURAL
    assert doc["spec"]["names"]["shortNames"] == ["trp"]
    assert doc["spec"]["scope"] == "Namespaced"
    assert [v["name"] for v in doc["spec"]["versions"]] == [_constants.TRP_VERSION]


def test_schema_is_the_seed_contract_plus_status():
    version = yaml.safe_load(_trp_crd.CRD_YAML)["spec"]["versions"][0]
    assert version["served"] is True and version["storage"] is True
    assert version["subresources"] == {"status": {}}
    props = version["schema"]["openAPIV3Schema"]["properties"]
    spec = props["spec"]
    assert sorted(spec["required"]) == ["limits", "selectors"]
    limits = spec["properties"]["limits"]["properties"]
    assert limits["cpuCores"]["type"] == "number"
    for key in ("memoryBytes", "maxClusters", "maxDbUsers"):
        assert limits[key]["type"] == "integer"
    for key in ("cpuCores", "memoryBytes", "maxClusters", "maxDbUsers"):
        assert limits[key]["minimum"] == 0
    engines = spec["properties"]["selectors"]["properties"]["engines"]
    assert engines["items"]["enum"] == ["postgresql", "mysql", "mongodb", "xtradb_cluster"]
    assert sorted(props["status"]["properties"]["usage"]["properties"]) == ["clusters", "cpuCores", "dbUsers", "memoryBytes"]
    assert "conditions" in props["status"]["properties"] and "observedGeneration" in props["status"]["properties"]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {"Max Clusters": ".spec.limits.maxClusters", "Engines": ".spec.selectors.engines", "Age": ".metadata.creationTimestamp"}


def _write():
    text = YAML_FILE.read_text(encoding="utf-8")
    assert "'''" not in text and "\\" not in text
    source = PY_FILE.read_text(encoding="utf-8")
    head = source[: source.index("CRD_YAML = '''")]
    PY_FILE.write_text(head + "CRD_YAML = '''" + text + "'''\n", encoding="utf-8")
    print("wrote", PY_FILE)


if __name__ == "__main__" and "--write" in sys.argv:
    _write()
    sys.exit(0 if re.search("CRD_YAML", PY_FILE.read_text(encoding="utf-8")) else 1)
