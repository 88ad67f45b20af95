#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing (one apt-get for all of them);
# fails loudly otherwise. Binaries are checked on PATH; source-only packages by a file they install.
set -euo pipefail
# binary -> package (baresip-core: the softphone of e2e/softphone.test.ts; its modules come with it;
# gcc: compiles the native relay, scripts/build-native.sh)
declare -A want=([sipp]=sip-tester [redis-server]=redis-server [go]=golang-go [baresip]=baresip-core [cc]=gcc)
# file -> package (Go library sources the chart renderer, tools/chart-render, builds against; the C
# library headers of the native relay)
declare -A want_files=(
  [/usr/share/gocode/src/github.com/Masterminds/sprig/functions.go]=golang-github-masterminds-sprig-dev
  [/usr/include/stdio.h]=libc6-dev
)
missing=()
for bin in "${!want[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${want[$bin]}")
done
for file in "${!want_files[@]}"; do
  [ -e "$file" ] || missing+=("${want_files[$file]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
  command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}"; exit 1; }
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "error: apt-get update failed; cannot install ${missing[*]}"; exit 1; }
$SUDO apt-get install -y -qq "${missing[@]}" || { echo "error: apt-get install ${missing[*]} failed"; exit 1; }
for bin in "${!want[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || { echo "error: $bin still missing after installing ${want[$bin]}"; exit 1; }
done
for file in "${!want_files[@]}"; do
  [ -e "$file" ] || { echo "error: $file still missing after installing ${want_files[$file]}"; exit 1; }
done
