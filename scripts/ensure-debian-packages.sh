#!/usr/bin/env bash
# Installs the Debian packages the tests need when their binaries are missing; fails loudly otherwise.
set -euo pipefail
declare -A want=([sipp]=sip-tester [redis-server]=redis-server)
missing=()
for bin in "${!want[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${want[$bin]}")
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
