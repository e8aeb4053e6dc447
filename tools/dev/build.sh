#!/usr/bin/env bash
# Configures and builds Switchboard into ${SB_BUILD_DIR:-build} (ccache and Ninja when present).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${SB_BUILD_DIR:-$repo/build}
generator=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=${SB_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$build" --parallel "${SB_JOBS:-$(nproc)}" "$@"
