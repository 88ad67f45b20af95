#!/usr/bin/env bash
# usage: scripts/prod-tree.sh DIR
#
# Builds into DIR the production tree the Dockerfile's runtime stage holds in /app, by the same steps:
#   prod-deps stage:  COPY package.json package-lock.json; npm ci --omit=dev --ignore-scripts --no-audit --no-fund
#   runtime stage:    COPY those two files, node_modules and dist/ — nothing else.
# dist/ is the repo's own build (`make build`); the Dockerfile's build stage compiles the same sources
# with the same tsconfig.build.json. test/deploy/prod-tree.test.ts starts the pbx from DIR to prove the
# production dependencies suffice; test/deploy/dockerfile.test.ts keeps this script and the Dockerfile
# in step.
#
# `--omit=dev` leaves out the pinned `node` devDependency, so run the tree with the repo's
# node_modules/.bin/node (Node 24, like the image): `node_modules/.bin/node DIR/dist/pbx/main.js`.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$1"

if [[ ! -f "$repo/dist/pbx/main.js" ]]; then
  echo "error: $repo/dist/pbx/main.js is missing: build first (make build, or tsc -p tsconfig.build.json)" >&2
  exit 1
fi
if [[ -e "$dir" && -n "$(ls -A "$dir")" ]]; then
  echo "error: $dir is not empty; the production tree must hold nothing else" >&2
  exit 1
fi
mkdir -p "$dir"

# prod-deps stage
cp "$repo/package.json" "$repo/package-lock.json" "$dir/"
(cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)

# runtime stage (package.json, package-lock.json and node_modules are already in place)
cp -R "$repo/dist" "$dir/dist"

echo "production tree in $dir: $(ls "$dir" | tr '\n' ' ')"
