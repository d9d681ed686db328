#!/bin/sh
# Installs a pinned everestctl release binary (run by execution-environment.yml at image build time).
#
# Environment (the build arguments of execution-environment.yml):
#   EVERESTCTL_VERSION   release to install, without the leading "v" (required), e.g. 1.10.0
#   EVERESTCTL_SHA256    expected sha256 of the binary for the target architecture. Empty = not verified (a warning
#                        is printed); production images must set it (see docs/awx.md).
#   EVERESTCTL_ARCH      amd64 or arm64; default: TARGETARCH (set by buildx/podman), else from `uname -m`
#   EVERESTCTL_BASE_URL  default https://github.com/percona/everest/releases/download
#   EVERESTCTL_DEST      default /usr/local/bin/everestctl
set -eu

version="${EVERESTCTL_VERSION:-}"
if [ -z "$version" ]; then
  echo "install-everestctl: EVERESTCTL_VERSION is empty; set the build argument (e.g. 1.10.0)" >&2
  exit 2
fi
version="${version#v}"
case "$version" in
  *[!0-9A-Za-z.+-]*) echo "install-everestctl: invalid EVERESTCTL_VERSION '$version'" >&2; exit 2 ;;
esac

arch="${EVERESTCTL_ARCH:-${TARGETARCH:-}}"
[ -n "$arch" ] || arch="$(uname -m)"
case "$arch" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "install-everestctl: unsupported architecture '$arch' (everestctl is released for amd64 and arm64)" >&2; exit 2 ;;
esac

base="${EVERESTCTL_BASE_URL:-https://github.com/percona/everest/releases/download}"
dest="${EVERESTCTL_DEST:-/usr/local/bin/everestctl}"
url="$base/v$version/everestctl-linux-$arch"
tmp="$dest.download.$$"
trap 'rm -f "$tmp"' EXIT INT TERM

echo "install-everestctl: downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 3 --retry-delay 2 -o "$tmp" "$url"
else
  "${PYCMD:-python3}" -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$tmp"
fi

if [ -n "${EVERESTCTL_SHA256:-}" ]; then
  actual="$(sha256sum "$tmp" | cut -d' ' -f1)"
  if [ "$actual" != "$EVERESTCTL_SHA256" ]; then
    echo "install-everestctl: sha256 mismatch for $url: expected $EVERESTCTL_SHA256, got $actual" >&2
    exit 1
  fi
  echo "install-everestctl: sha256 verified"
else
  echo "install-everestctl: WARNING: EVERESTCTL_SHA256 is not set, the binary was NOT verified (set it for production images)" >&2
fi

chmod 0755 "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT INT TERM
"$dest" version --client-only
