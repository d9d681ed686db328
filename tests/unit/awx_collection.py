"""The awx.awx collection for the tests of awx/: where to get it and how to read its modules' argument specs.

awx.awx is not on PyPI by itself; the PyPI ``ansible`` package bundles it (ansible 12.3.0: awx.awx 24.6.1, the last
AWX release). ``install()`` downloads that wheel with pip (no dependencies, into tests/output/awx/) and extracts only
``ansible_collections/awx/awx``. ``argument_spec()`` runs the module's ``main()`` in a subprocess with
``ControllerAPIModule`` replaced by a stub that prints the ``argument_spec`` it is given: the exact spec, defaults and
aliases included, without an AWX server. The results are kept in fixtures/awx/argument_specs.json for offline runs
(regenerate: ``.venv/bin/python tests/unit/awx_collection.py``).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ANSIBLE_PACKAGE = "ansible==12.3.0"
AWX_OUTPUT = Path(__file__).resolve().parents[1] / "output" / "awx"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "awx" / "argument_specs.json"
# the awx.awx modules whose options awx/ uses: job templates, inventories and their project source, the EE, credential types
MODULES = ("job_template", "inventory", "inventory_source", "execution_environment", "credential_type")

CAPTURE = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import importlib
module = importlib.import_module('ansible_collections.awx.awx.plugins.modules.' + sys.argv[2])


class Captured(Exception):
    pass


class Stub(object):
    def __init__(self, argument_spec=None, **kwargs):
        raise Captured(argument_spec)


module.ControllerAPIModule = Stub
try:
    module.main()
except Captured as exc:
    print(json.dumps(exc.args[0], sort_keys=True))
'''


def install(python=sys.executable):
    """Path containing ``ansible_collections/awx/awx`` (downloaded and extracted once); raises on failure. Safe when
    several test processes (xdist workers) ask at once: each works in its own directory, the first rename wins."""
    root = AWX_OUTPUT / "collections"
    if (root / "ansible_collections" / "awx" / "awx" / "MANIFEST.json").exists():
        return root
    work = AWX_OUTPUT / ("tmp-%d" % os.getpid())
    shutil.rmtree(work, ignore_errors=True)
    (work / "dist").mkdir(parents=True)
    subprocess.run(
        [python, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps", ANSIBLE_PACKAGE, "-d", str(work / "dist")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = sorted((work / "dist").glob("ansible-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("ansible_collections/awx/awx/"):
                archive.extract(name, work / "collections")
    try:
        os.rename(str(work / "collections"), str(root))
    except OSError:  # another process was first (or a stale partial copy is in the way: then fail loudly below)
        pass
    shutil.rmtree(work, ignore_errors=True)
    if not (root / "ansible_collections" / "awx" / "awx" / "MANIFEST.json").exists():
        raise RuntimeError("awx.awx not installed in %s (remove it and retry)" % root)
    return root


def version(root):
    manifest = json.loads((Path(root) / "ansible_collections" / "awx" / "awx" / "MANIFEST.json").read_text())
    return manifest["collection_info"]["version"]


def module_sha256(root, module):
    path = Path(root) / "ansible_collections" / "awx" / "awx" / "plugins" / "modules" / (module + ".py")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def argument_spec(root, module, python=sys.executable):
    proc = subprocess.run([python, "-c", CAPTURE, str(root), module], check=True, capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def write_fixture(root):
    data = {
        "_source": {
            "package": ANSIBLE_PACKAGE + " (PyPI)",
            "collection": "awx.awx " + version(root),
            "files": dict((m, "ansible_collections/awx/awx/plugins/modules/%s.py sha256:%s" % (m, module_sha256(root, m))) for m in MODULES),
            "what": "the argument_spec each module's main() passes to ControllerAPIModule (tests/unit/awx_collection.py)",
        },
        "argument_specs": dict((m, argument_spec(root, m)) for m in MODULES),
    }
    FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_fixture(install())
    print(FIXTURE)
