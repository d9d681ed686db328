"""Release hygiene (docs/dev/release.md): a changelog for users, an ignored plugin cache, a tarball that only points at
files it contains."""

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
REPOSITORY_URL = "https://github.com/virakcloud/ansible-collection-everest/"
# what is not in the installed collection: such entries belong in the trivial section
NOT_FOR_USERS = re.compile(r"^\s*(sandbox|tests?\b|unit tests|make |readme\b|ci\b|bench)", re.I)
LEFT_OUT = re.compile(r"(?<![\w/.-])((?:tests|bench|scripts|docs/dev|extensions|\.ci)/[\w./*-]*)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")  # a regular expression in backticks is not a link
URL_LINK = re.compile(r"\[[^\]]*\]\(https?://[^)]+\)|https?://\S+")


def fragments():
    for path in sorted((REPO / "changelogs" / "fragments").glob("*.yml")):
        for section, entries in (yaml.safe_load(path.read_text()) or {}).items():
            for entry in entries or []:
                yield path.name, section, entry


def test_changelog_lint():
    proc = subprocess.run([str(BIN / "antsibull-changelog"), "lint"], cwd=str(REPO), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_user_sections_describe_the_collection_only():
    wrong = [
        (name, section, entry[:80])
        for name, section, entry in fragments()
        if section != "trivial"
        and (NOT_FOR_USERS.match(entry) or ".sandbox" in entry or "tests/" in entry or "docs/dev/" in entry or "test-requirements" in entry)
    ]
    assert wrong == []


def test_trial_release_leaves_the_fragments_alone(tmp_path):
    """`antsibull-changelog release` on a copy: a 0.1.0 changelog without sandbox or test entries."""
    copy = tmp_path / "ansible_collections" / "virakcloud" / "everest"
    for name in ("changelogs", "plugins", "meta", "roles"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
    shutil.copy(REPO / "galaxy.yml", copy / "galaxy.yml")
    before = sorted(p.name for p in (REPO / "changelogs" / "fragments").iterdir())
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    proc = subprocess.run(
        [str(BIN / "antsibull-changelog"), "release", "--version", GALAXY["version"], "--date", "2026-12-01"],
        cwd=str(copy),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (copy / "CHANGELOG.rst").read_text()
    assert "v%s" % GALAXY["version"] in text and "virakcloud.everest.everest_account" in text
    assert "sandbox" not in text.lower() and "make demo" not in text
    assert sorted(p.name for p in (REPO / "changelogs" / "fragments").iterdir()) == before


def test_plugin_cache_is_ignored():
    assert "changelogs/.plugin-cache.yaml" in (REPO / ".gitignore").read_text().splitlines()
    assert "changelogs/.plugin-cache.yaml" in GALAXY["build_ignore"]


def _markdown_prose(text):
    """Lines outside fenced code blocks (commands there run in a clone of the repository)."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            yield number, line


def test_shipped_files_point_only_at_shipped_files(tmp_path):
    proc = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = tmp_path.glob("virakcloud-everest-*.tar.gz")
    root = tmp_path / "content"
    with tarfile.open(tarball) as archive:
        archive.extractall(root, filter="data")
    shipped = set(str(p.relative_to(root)) for p in root.rglob("*"))
    assert "changelogs/.plugin-cache.yaml" not in shipped and not any(p.startswith(("tests/", "docs/dev/")) for p in shipped)
    problems = []
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        # plugins/ (module docs and code comments) and the changelog fragments are checked elsewhere
        if (
            not path.is_file()
            or name.startswith(("plugins/", "changelogs/", "LICENSES/"))
            or path.suffix not in (".md", ".yml", ".yaml", ".txt", ".sh", ".j2", ".cfg")
        ):
            continue
        text = path.read_text(errors="replace")
        lines = _markdown_prose(text) if path.suffix == ".md" else enumerate(text.splitlines(), 1)
        for number, line in lines:
            for target in LINK.findall(CODE_SPAN.sub("", line)) if path.suffix == ".md" else ():
                target = target.split("#", 1)[0]
                if target and "://" not in target and not target.startswith("mailto:"):
                    if os.path.normpath(os.path.join(os.path.dirname(name), target)) not in shipped:
                        problems.append("%s:%d link %s" % (name, number, target))
            for token in LEFT_OUT.findall(URL_LINK.sub("", line)):
                problems.append("%s:%d path %s" % (name, number, token))
    assert problems == [], "\n".join(problems)
