#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest (unit, db, redis,
# integration). Extra arguments go to ctest, e.g. `tools/test.sh -L unit`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/tools/dev/install-deps.sh"
build=${SB_BUILD_DIR:-$repo/build}
SB_BUILD_DIR=$build "$repo/tools/dev/build.sh" >"${TMPDIR:-/tmp}/switchboard-build.log" 2>&1 ||
  { tail -60 "${TMPDIR:-/tmp}/switchboard-build.log"; echo "build failed" >&2; exit 1; }
cd "$build"
ctest --output-on-failure --parallel "$(nproc)" "$@"
