"""The execution environment definition: ansible-builder accepts it and writes a build context that installs this
collection, its Python and system requirements and the pinned everestctl; the everestctl install script works.

`ansible-builder build` needs a container engine (none here): `create` (build context only) is what is verified.
"""

import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCRIPT = REPO / "awx" / "ee" / "install-everestctl.sh"


def _load(path):
    return yaml.safe_load(Path(path).read_text())


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("collection-build")
    proc = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = out.glob("virakcloud-everest-*.tar.gz")
    return tarball


@pytest.fixture(scope="module")
def build_context(tmp_path_factory, collection_tarball):
    """`ansible-builder create` run on a copy of the files execution-environment.yml references."""
    builder = BIN / "ansible-builder"
    if not builder.exists():
        pytest.skip("ansible-builder is not installed in this venv (it is in test-requirements.txt)")
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, work / name)
    shutil.copytree(REPO / "awx", work / "awx")
    (work / "build").mkdir()
    shutil.copy(collection_tarball, work / "build" / collection_tarball.name)
    proc = subprocess.run(
        [str(builder), "create", "-f", "execution-environment.yml", "--context", "context", "--output-filename", "Containerfile", "-v", "3"],
        cwd=str(work),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "context"


def test_definition_is_valid_schema_3():
    from ansible_builder.ee_schema import validate_schema  # pylint: disable=import-outside-toplevel

    definition = _load(REPO / "execution-environment.yml")
    assert definition["version"] == 3
    validate_schema(definition)  # raises DefinitionError when invalid
    # pinned: ansible-core equals the version the test suite runs with
    from ansible.release import __version__ as core_version  # pylint: disable=import-outside-toplevel

    assert definition["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==%s" % core_version
    assert re.match(r"^ansible-runner==\d+\.\d+\.\d+$", definition["dependencies"]["ansible_runner"]["package_pip"])
    assert ":" in definition["images"]["base_image"]["name"] and not definition["images"]["base_image"]["name"].endswith(":latest")


def test_create_writes_a_context_with_collection_requirements_and_everestctl(build_context, collection_tarball):
    containerfile = (build_context / "Containerfile").read_text()
    # the collection: tarball copied into the galaxy stage and installed from the galaxy requirements
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    galaxy = _load(build_context / "_build" / "requirements.yml")
    assert galaxy["collections"] == [{"name": "/build/collections/virakcloud-everest.tar.gz", "type": "file"}]
    assert (build_context / "_build" / "collections" / collection_tarball.name).is_file()
    # Python requirements and bindep, also combined with the collection's own metadata by introspect
    assert "COPY _build/requirements.txt requirements.txt" in containerfile
    assert "COPY _build/bindep.txt bindep.txt" in containerfile
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert (build_context / "_build" / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build_context / "_build" / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    assert 'ANSIBLE_INSTALL_REFS="ansible-core==' in containerfile
    # everestctl: pinned version and checksum build args, the script, run as root before the final USER
    assert re.search(r"^ARG EVERESTCTL_VERSION=\d+\.\d+\.\d+$", containerfile, re.M)
    assert 'ARG EVERESTCTL_SHA256=""' in containerfile
    assert "COPY _build/scripts/install-everestctl.sh /output/scripts/install-everestctl.sh" in containerfile
    assert (build_context / "_build" / "scripts" / "install-everestctl.sh").read_text() == SCRIPT.read_text()
    install = containerfile.index("/bin/sh /output/scripts/install-everestctl.sh")
    assert install < containerfile.rindex("USER 1000")
    assert install > containerfile.index("FROM base AS final")
    assert "ENV EVERESTCTL_PATH=/usr/local/bin/everestctl" in containerfile


def test_collection_metadata_is_picked_up_by_introspection(build_context, collection_tarball, tmp_path):
    """ansible-builder's own introspect script finds meta/execution-environment.yml in the installed collection."""
    target = tmp_path / "collections" / "ansible_collections" / "virakcloud" / "everest"
    target.mkdir(parents=True)
    with tarfile.open(collection_tarball) as archive:
        archive.extractall(target, filter="data")
    meta = _load(target / "meta" / "execution-environment.yml")
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    proc = subprocess.run(
        [sys.executable, str(build_context / "_build" / "scripts" / "introspect.py"), "introspect", str(tmp_path / "collections")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = _load_introspect(proc.stdout)
    # requirements.txt is read, but its only entry (PyYAML>=...) is one ansible-builder always leaves out (ansible-core
    # brings it); kubernetes is optional (requirements-legacy-auth.txt), so the collection adds no Python package
    assert [line for line in found["python"] if "virakcloud.everest" in line] == []
    assert any(line.startswith("ca-certificates ") and "from collection virakcloud.everest" in line for line in found["system"])


def _load_introspect(text):
    data = yaml.safe_load(text)
    return {"python": data.get("python") or [], "system": data.get("system") or []}


def test_bindep_lines_are_well_formed():
    pattern = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*( *[<>=!]=?[^ \[]+)?( \[[a-z0-9:!._ -]+\])?$")
    entries = [line for line in (REPO / "bindep.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert entries
    for line in entries:
        assert pattern.match(line), line
    assert any(line.startswith("ca-certificates ") for line in entries)


# ---- install-everestctl.sh ---------------------------------------------------------------------------------------

FAKE_BINARY = "#!/bin/sh\necho 'ProjectName: everestctl'\necho 'Version: v{version}'\necho 'Arch: {arch}'\n"


@pytest.fixture(scope="module")
def release_server(tmp_path_factory):
    """A local stand-in for github.com/percona/everest/releases/download serving two architectures of v1.10.0."""
    root = tmp_path_factory.mktemp("releases")
    sums = {}
    for arch in ("amd64", "arm64"):
        folder = root / "v1.10.0"
        folder.mkdir(exist_ok=True)
        data = FAKE_BINARY.format(version="1.10.0", arch=arch).encode()
        (folder / ("everestctl-linux-%s" % arch)).write_bytes(data)
        sums[arch] = hashlib.sha256(data).hexdigest()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1], sums
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


def _install(tmp_path, base_url, **env):
    dest = tmp_path / "bin" / "everestctl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EVERESTCTL_BASE_URL": base_url, "EVERESTCTL_DEST": str(dest), "PYCMD": sys.executable}
    full.update(env)
    proc = subprocess.run(["/bin/sh", str(SCRIPT)], env=full, capture_output=True, text=True, check=False, timeout=60)
    return proc, dest


def test_install_verifies_the_checksum(tmp_path, release_server):
    url, sums = release_server
    proc, dest = _install(tmp_path, url, EVERESTCTL_VERSION="v1.10.0", EVERESTCTL_SHA256=sums["amd64"], EVERESTCTL_ARCH="x86_64")
    assert proc.returncode == 0, proc.stderr
    assert "sha256 verified" in proc.stdout
    assert "Version: v1.10.0" in proc.stdout and "Arch: amd64" in proc.stdout  # it ran `everestctl version --client-only`
    assert os.access(dest, os.X_OK)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["everestctl"]


def test_install_picks_the_target_architecture(tmp_path, release_server):
    url, sums = release_server
    proc, dest = _install(tmp_path, url, EVERESTCTL_VERSION="1.10.0", EVERESTCTL_SHA256=sums["arm64"], TARGETARCH="arm64")
    assert proc.returncode == 0, proc.stderr
    assert "Arch: arm64" in subprocess.run([str(dest)], capture_output=True, text=True, check=True).stdout


def test_install_refuses_a_wrong_checksum(tmp_path, release_server):
    url, sums = release_server
    proc, dest = _install(tmp_path, url, EVERESTCTL_VERSION="1.10.0", EVERESTCTL_SHA256=sums["arm64"], EVERESTCTL_ARCH="amd64")
    assert proc.returncode == 1
    assert "sha256 mismatch" in proc.stderr
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_install_without_checksum_warns(tmp_path, release_server):
    url, _sums = release_server
    proc, dest = _install(tmp_path, url, EVERESTCTL_VERSION="1.10.0", EVERESTCTL_ARCH="amd64")
    assert proc.returncode == 0, proc.stderr
    assert "NOT verified" in proc.stderr and dest.exists()


@pytest.mark.parametrize(
    "env,code,text",
    [
        ({"EVERESTCTL_ARCH": "amd64"}, 2, "EVERESTCTL_VERSION is empty"),
        ({"EVERESTCTL_VERSION": "1.10.0; rm -rf /", "EVERESTCTL_ARCH": "amd64"}, 2, "invalid EVERESTCTL_VERSION"),
        ({"EVERESTCTL_VERSION": "1.10.0", "EVERESTCTL_ARCH": "mips64"}, 2, "unsupported architecture"),
    ],
)
def test_install_rejects_bad_arguments(tmp_path, release_server, env, code, text):
    url, _sums = release_server
    proc, dest = _install(tmp_path, url, **env)
    assert proc.returncode == code and text in proc.stderr
    assert not dest.exists()


def test_install_fails_on_a_missing_release(tmp_path, release_server):
    url, _sums = release_server
    proc, dest = _install(tmp_path, url, EVERESTCTL_VERSION="9.9.9", EVERESTCTL_ARCH="amd64")
    assert proc.returncode != 0
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_install_without_curl_uses_python(tmp_path, release_server):
    """Base images without curl: the script downloads with the image's Python (PYCMD)."""
    url, sums = release_server
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sha256sum", "cut", "chmod", "mv", "rm", "uname"):
        (tools / name).symlink_to(shutil.which(name))
    proc, dest = _install(tmp_path, url, PATH=str(tools), EVERESTCTL_VERSION="1.10.0", EVERESTCTL_SHA256=sums["amd64"], EVERESTCTL_ARCH="amd64")
    assert proc.returncode == 0, proc.stderr
    assert "sha256 verified" in proc.stdout and dest.exists()
