#!/usr/bin/env bash
# Runs the offline-capable `ansible-test sanity` tests on a copy of the collection.
#
# ansible-test must run from a directory whose physical path ends in ansible_collections/<ns>/<name>, so
# the tracked and untracked-but-not-ignored files are copied to a staging tree first. ansible-test's venv
# bootstrap downloads get-pip.py from a host that is unreachable here: a stand-in that uses ensurepip is put
# in its cache first (see docs/dev/architecture.md). Tests skipped and why:
#   - pwsh-related tests (pslint): no PowerShell content
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PY:-$repo/.venv/bin/python}"
bin="$(dirname "$PY")"
stage_root="${TMPDIR:-/tmp}/virakcloud-everest-sanity-$$"
stage="$stage_root/ansible_collections/virakcloud/everest"
trap 'rm -rf "$stage_root"' EXIT

pip_version="$("$PY" - <<'PYEOF'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PYEOF
)"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cat > "$cache" <<'PYEOF'
# Stand-in for get-pip.py (the real one cannot be downloaded here): bootstrap pip with ensurepip,
# then install what ansible-test asked for (get-pip.py takes `pip install` arguments).
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PYEOF
fi

mkdir -p "$stage"
cd "$repo"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  mkdir -p "$stage/$(dirname "$f")"
  cp -P "$f" "$stage/$f"
done
cd "$stage"
git init -q . && git add -A >/dev/null 2>&1 && git -c user.email=ci@local -c user.name=ci commit -qm stage >/dev/null
PATH="$bin:$PATH" "$bin/ansible-test" sanity --local --python 3.11 --color no \
  --skip-test pslint "$@"
echo "ansible-test sanity: passed"
