#!/usr/bin/env bash
# Installs what Peregrine needs to build and run, and nothing that is already
# there: Debian's clang/llvm/libbpf/bpftool for the kernel side, and the npm
# dependencies from the lock file. Safe to run again; `npm start` and
# `npm test` run it first, so a fresh clone needs no other step.
set -euo pipefail
cd "$(dirname "$0")/.."

# prometheus (with promtool): the export tests scrape the live agent with a real Prometheus.
debian_packages=(clang llvm libbpf-dev bpftool make pkg-config libelf-dev zlib1g-dev gcc libc6-dev prometheus)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
