#!/usr/bin/env bash
# The test command: `bash tests/run.sh [cargo test args…]`.
#
# The end-to-end tests need a running Docker engine and static glibc (the test
# containers run a static `emit` binary FROM scratch). This script makes sure
# they are there (tests/setup.sh), sweeps containers a previous run may have left
# behind, runs the whole workspace's tests, and sweeps again on the way out. Safe
# to run repeatedly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Docker engine, make and cc, static glibc, the gnu target.
source tests/setup.sh

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
# The middleware's features must each work alone: test it with none, with each
# one alone, and with all (the run above covers its default set).
for features in "" axum reqwest otel; do
    cargo test --locked -p wakeline-middleware --no-default-features ${features:+--features "$features"} "$@"
done
cargo test --locked -p wakeline-middleware --all-features "$@"
