#!/usr/bin/env bash
# Side-by-side load test of iamd and node-oidc-provider (v9) on the same box, plain HTTP on
# 127.0.0.1: the client-credentials grant (token endpoint, client_secret_basic) and token
# introspection (POST, a token obtained beforehand), with wrk at 1, 16 and 64 connections.
# Prints requests per second of both and their ratio, and iamd's peak RSS (VmHWM).
#
#   examples/peer-bench/run.sh              # 10 s per run
#   DURATION=5 examples/peer-bench/run.sh   # shorter runs
#
# Needs cargo, node (oidc-provider supports 22 LTS and later; 20 runs it with a warning), npm,
# curl and jq; installs wrk from Debian (apt-get) when it is missing. Everything else lives in
# a scratch folder that is removed on exit, with both servers.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-"1 16 64"}
IAMD_PORT=${IAMD_PORT:-18480}
PEER_PORT=${PEER_PORT:-13080}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/peer-bench.XXXXXX")
iamd_pid=""
peer_pid=""

cleanup() {
    for pid in "$iamd_pid" "$peer_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'peer-bench: %s\n' "$*" >&2; exit 1; }

for tool in cargo node npm curl jq base64; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
if ! command -v wrk >/dev/null; then
    say "installing wrk (apt-get)"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        sudo apt-get install -y wrk >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y wrk >/dev/null; }
    fi
fi

# Waits until GET $1 answers 2xx; fails after 30 s, or at once when process $2 has died,
# printing that server's log $3.
wait_for() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            die "the server behind $url exited (its log is above)"
        fi
        curl -fso /dev/null "$url" && return 0
        sleep 0.1
    done
    cat "$log" >&2
    die "$url did not answer within 30 s (the server's log is above)"
}

# --- node-oidc-provider --------------------------------------------------------------------
say "installing oidc-provider@9 into $scratch/peer"
mkdir -p "$scratch/peer"
npm install --prefix "$scratch/peer" --no-audit --no-fund --silent oidc-provider@9 >&2
cp "$here/provider.mjs" "$scratch/peer/provider.mjs"
peer_version=$(jq -r .version "$scratch/peer/node_modules/oidc-provider/package.json")
peer_id=bench
peer_secret=$(head -c 32 /dev/urandom | base64 | tr -d '=+/\n')
PEER_PORT=$PEER_PORT PEER_CLIENT_ID=$peer_id PEER_CLIENT_SECRET=$peer_secret \
    node "$scratch/peer/provider.mjs" >"$scratch/peer.log" 2>&1 &
peer_pid=$!
peer_url="http://127.0.0.1:$PEER_PORT"
wait_for "$peer_url/.well-known/openid-configuration" "$peer_pid" "$scratch/peer.log"
peer_token_url=$(curl -fsS "$peer_url/.well-known/openid-configuration" | jq -r .token_endpoint)
peer_introspect_url=$(curl -fsS "$peer_url/.well-known/openid-configuration" | jq -r .introspection_endpoint)

# --- iamd ----------------------------------------------------------------------------------
say "building iamd (release)"
(cd "$root" && cargo build --release --quiet -p iamd)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
mkdir -p "$scratch/iamd"
# Plain HTTP, SQLite (the embedded default) in the scratch folder, and no rate limits: the
# load comes from one address, which the default per-address limits would throttle at once.
cat >"$scratch/iamd.toml" <<TOML
listen = "127.0.0.1:$IAMD_PORT"
http = true
data_dir = "$scratch/iamd"
rate_limit_burst = 0
TOML
RUST_LOG=warn "$target_dir/release/iamd" --config "$scratch/iamd.toml" \
    >"$scratch/iamd.out" 2>"$scratch/iamd.log" &
iamd_pid=$!
iamd_url="http://127.0.0.1:$IAMD_PORT"
wait_for "$iamd_url/.well-known/oauth-authorization-server" "$iamd_pid" "$scratch/iamd.log"
admin_password=$(sed -n 's/^  password: //p' "$scratch/iamd.out")
[[ -n "$admin_password" ]] || die "iamd printed no initial admin password"
admin_token=$(jq -n --arg p "$admin_password" '{username: "admin", password: $p}' |
    curl -fsS "$iamd_url/login" -H 'content-type: application/json' --data-binary @- |
    jq -r .access_token)
registered=$(curl -fsS "$iamd_url/clients" -H "authorization: Bearer $admin_token" \
    -H 'content-type: application/json' \
    -d '{"name": "bench", "kind": "confidential", "grant_types": ["client_credentials"]}')
iamd_id=$(jq -r .client.id <<<"$registered")
iamd_secret=$(jq -r .client_secret <<<"$registered")
iamd_meta=$(curl -fsS "$iamd_url/.well-known/oauth-authorization-server")
iamd_token_url=$(jq -r .token_endpoint <<<"$iamd_meta")
iamd_introspect_url=$(jq -r .introspection_endpoint <<<"$iamd_meta")

# --- the load ------------------------------------------------------------------------------
# A fresh access token from $1 (token endpoint) for client $2 with secret $3.
access_token() {
    curl -fsS -u "$2:$3" -d grant_type=client_credentials "$1" | jq -re .access_token
}

# Checks that introspecting $4 at $1 as client $2:$3 says active (a token evicted or
# refused would make introspection a cheaper "inactive" answer).
expect_active() {
    [[ $(curl -fsS -u "$2:$3" --data-urlencode "token=$4" "$1" | jq -r .active) == true ]] ||
        die "introspection at $1 does not report the benchmark token active"
}

declare -A rps

# Requests per second of wrk at $2 connections against $1, into the variable RESULT; the
# request is post.lua's (BENCH_BASIC, BENCH_BODY). Fails when any answer is not 2xx.
load() {
    local url=$1 conns=$2 out
    out=$(wrk -t1 -c"$conns" -d"${DURATION}s" -s "$here/post.lua" "$url")
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "non-2xx answers from $url"
    fi
    if grep -q 'Socket errors' <<<"$out"; then
        grep 'Socket errors' <<<"$out" | sed "s|^ *|$url, $conns connection(s): |" >&2
    fi
    RESULT=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    [[ -n "$RESULT" ]] || die "no Requests/sec in wrk's output for $url"
}

# One workload on one server, after a short warm-up: $1 workload key, $2 server key,
# $3 url, $4 client id, $5 secret, $6 form body. Fills rps[workload,server,connections].
workload() {
    export BENCH_BASIC BENCH_BODY
    BENCH_BASIC=$(printf '%s:%s' "$4" "$5" | base64 -w0)
    BENCH_BODY=$6
    DURATION=2 load "$3" 16
    for c in $CONNECTIONS; do
        say "$2 $1: $c connection(s), ${DURATION}s"
        load "$3" "$c"
        rps[$1,$2,$c]=$RESULT
    done
}

workload "client-credentials" iamd "$iamd_token_url" "$iamd_id" "$iamd_secret" \
    grant_type=client_credentials
workload "client-credentials" node-oidc-provider "$peer_token_url" "$peer_id" "$peer_secret" \
    grant_type=client_credentials

# Each token is taken after the client-credentials load: node-oidc-provider's in-memory
# adapter is an LRU of 1000 entries, so a token taken earlier would have been evicted.
iamd_at=$(access_token "$iamd_token_url" "$iamd_id" "$iamd_secret")
expect_active "$iamd_introspect_url" "$iamd_id" "$iamd_secret" "$iamd_at"
workload introspection iamd "$iamd_introspect_url" "$iamd_id" "$iamd_secret" "token=$iamd_at"
expect_active "$iamd_introspect_url" "$iamd_id" "$iamd_secret" "$iamd_at"
peer_at=$(access_token "$peer_token_url" "$peer_id" "$peer_secret")
expect_active "$peer_introspect_url" "$peer_id" "$peer_secret" "$peer_at"
workload introspection node-oidc-provider "$peer_introspect_url" "$peer_id" "$peer_secret" \
    "token=$peer_at"
expect_active "$peer_introspect_url" "$peer_id" "$peer_secret" "$peer_at"

vmhwm() { awk '/^VmHWM:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }
iamd_rss=$(vmhwm "$iamd_pid")
peer_rss=$(vmhwm "$peer_pid")

printf '\niamd (release, SQLite) vs node-oidc-provider %s (node %s, in-memory), plain HTTP,\n' \
    "$peer_version" "$(node --version)"
printf 'wrk -t1 -cN -d%ss, %s CPU(s)\n\n' "$DURATION" "$(nproc)"
printf '| workload | connections | iamd req/s | node-oidc-provider req/s | iamd / node-oidc-provider |\n'
printf '| --- | ---: | ---: | ---: | ---: |\n'
for w in client-credentials introspection; do
    for c in $CONNECTIONS; do
        a=${rps[$w,iamd,$c]}
        b=${rps[$w,node-oidc-provider,$c]}
        printf '| %s | %s | %.0f | %.0f | %s |\n' "${w/-/ }" "$c" "$a" "$b" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
    done
done
printf '\nPeak RSS (VmHWM) over the run: iamd %s, node-oidc-provider %s\n' "$iamd_rss" "$peer_rss"
