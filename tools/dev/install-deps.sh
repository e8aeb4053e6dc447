#!/usr/bin/env bash
# Installs what Switchboard needs to build, test and run locally on Debian 12: compilers and
# libraries from Debian's packages, Postgres and Redis servers, Node.js, and the npm peers in
# tools/npm. Idempotent and quiet: installs only what is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpqxx-dev libhiredis-dev libyaml-cpp-dev libssl-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  postgresql redis-server redis-tools curl procps
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
# nginx only fronts edge replicas in the scale-out test, run by the test on a loopback port.
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start system-wide servers (nginx on port 80, Postgres, Redis) where no
  # policy says otherwise: a policy-rc.d that refuses service starts, for this install only.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT  # gone even when the install fails
  fi
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql and redis packages try to start system-wide servers; Switchboard runs
# its own under a data dir, so those are neither needed nor touched here.

# npm peers: the reference MCP server and the TypeScript SDK client, pinned by the lockfile.
npm_dir="$repo/tools/npm"
stamp="$npm_dir/node_modules/.sb-lock-stamp"
if [[ ! -f "$stamp" ]] || ! cmp -s "$npm_dir/package-lock.json" "$stamp"; then
  echo "install-deps: installing npm packages in tools/npm" >&2
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$npm_dir/package-lock.json" "$stamp"
fi
