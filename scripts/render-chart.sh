#!/usr/bin/env bash
# Renders a Helm chart to a multi-document YAML stream on stdout, without helm:
#   scripts/render-chart.sh CHART [--values F]... [--set k=v]... [--namespace NS] [--release NAME]
#                           [--api-versions a,b] [--kube-version v1.32.0] [--skip-crds] [--notes]
# The renderer (tools/chart-render, Go text/template + sprig) is built offline in GOPATH mode against
# Debian's packaged Go sources (golang-go, golang-github-masterminds-sprig-dev), once per source hash,
# into CHART_RENDER_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/sippbx/chart-render).
# `scripts/render-chart.sh --build-only` just builds it and prints the binary's path.
# CHART_RENDER_GOPATH overrides the Go source tree (default /usr/share/gocode).
set -euo pipefail
# Bash only until the checks below, so a missing package is reported even on a bare PATH.
here="${BASH_SOURCE[0]%/*}"
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
src="$here/../tools/chart-render"
gocode="${CHART_RENDER_GOPATH:-/usr/share/gocode}"
sprig_dir="$gocode/src/github.com/Masterminds/sprig"

command -v go >/dev/null 2>&1 || {
  echo "error: 'go' not found: install the Debian package golang-go (scripts/ensure-debian-packages.sh does)" >&2
  exit 3
}
[ -f "$sprig_dir/functions.go" ] || {
  echo "error: sprig sources missing under $sprig_dir: install the Debian package golang-github-masterminds-sprig-dev (scripts/ensure-debian-packages.sh does)" >&2
  exit 3
}

cache="${CHART_RENDER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sippbx/chart-render}"
src="$(cd "$src" && pwd)"
hash="$({ go version; echo "$gocode"; cat "$src"/*.go "$sprig_dir"/*.go; } | sha256sum | cut -c1-16)"
bin="$cache/$hash/chart-render"
build() {
  [ -x "$bin" ] && return 0 # built while we waited for the lock
  local tmp
  tmp="$(mktemp "$cache/$hash/.build.XXXXXX")"
  # GOPATH mode: no go.mod, no network; imports resolve in Debian's /usr/share/gocode.
  if ! (cd "$src" && GO111MODULE=off GOPATH="$gocode" GOFLAGS= GOCACHE="$cache/gocache" \
    go build -trimpath -o "$tmp" .) >&2; then
    rm -f "$tmp"
    echo "error: building tools/chart-render failed (go $(go env GOVERSION), GOPATH=$gocode)" >&2
    return 3
  fi
  mv -f "$tmp" "$bin"
}
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/$hash"
  # One build at a time (parallel test workers wait for the first one instead of building again).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/$hash/.lock"
    flock 9
    build || exit 3
    exec 9>&-
  else
    build || exit 3
  fi
fi

if [ "${1:-}" = "--build-only" ]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
