#!/usr/bin/env bash
# What building and testing Wakeline needs on this machine, installed if
# missing: a running Docker engine, make and a C compiler (the collector links
# jemalloc, built from C source by its crate), static glibc and the gnu target
# (the test containers run a static `emit` binary FROM scratch), and Debian's
# chromium and chromium-driver (the UI tests drive a headless browser). Sourced by
# `tests/run.sh` and `.ci/run`; safe to run repeatedly.

setup_log() { printf 'setup.sh: %s\n' "$*" >&2; }

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
    setup_log "docker engine not running; starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    if ! wait_for 60 docker info; then
        setup_log "dockerd did not come up within 60 s; see /var/log/dockerd.log"
        exit 1
    fi
fi

if ! command -v make >/dev/null || ! command -v cc >/dev/null; then
    setup_log "make or cc missing (jemalloc builds from C); installing make and gcc"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make gcc >/dev/null
fi

if [[ ! -f /usr/lib/x86_64-linux-gnu/libc.a ]]; then
    setup_log "static glibc missing; installing libc6-dev"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libc6-dev >/dev/null
fi

if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    setup_log "chromedriver or chromium missing (the UI tests); installing chromium and chromium-driver"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-gnu; then
    rustup target add x86_64-unknown-linux-gnu >/dev/null
fi
