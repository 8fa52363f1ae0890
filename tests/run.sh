#!/usr/bin/env bash
# The test command: `bash tests/run.sh [cargo test args…]`.
#
# The end-to-end tests need a running Docker engine and static glibc (the test
# containers run a static `emit` binary FROM scratch). This script makes sure both
# are there, sweeps containers a previous run may have left behind, runs the whole
# workspace's tests, and sweeps again on the way out. Safe to run repeatedly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'run.sh: %s\n' "$*" >&2; }

# Polls `"$@"` until it succeeds or DEADLINE seconds pass.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if (($(date +%s) >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

if ! docker info >/dev/null 2>&1; then
    log "docker engine not running; starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    if ! wait_for 60 docker info; then
        log "dockerd did not come up within 60 s; see /var/log/dockerd.log"
        exit 1
    fi
fi

# The collector links jemalloc, built from C source by its crate.
if ! command -v make >/dev/null || ! command -v cc >/dev/null; then
    log "make or cc missing (jemalloc builds from C); installing make and gcc"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make gcc >/dev/null
fi

if [[ ! -f /usr/lib/x86_64-linux-gnu/libc.a ]]; then
    log "static glibc missing; installing libc6-dev"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libc6-dev >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-gnu; then
    rustup target add x86_64-unknown-linux-gnu >/dev/null
fi

sweep() {
    local ids
    ids=$(docker ps -aq --filter label=wakeline-test=1 2>/dev/null || true)
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086 # one ID per word
        docker rm -f $ids >/dev/null 2>&1 || true
    fi
}
trap sweep EXIT
sweep

# --no-fail-fast: one failing crate must not hide the results of the others.
cargo test --locked --workspace --no-fail-fast "$@"
# The middleware's OpenTelemetry feature is off by default; test it too.
cargo test --locked -p wakeline-middleware --all-features "$@"
