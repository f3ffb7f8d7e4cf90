#!/usr/bin/env bash
# Side-by-side load test of iamd and node-oidc-provider (v9) on the same box, plain HTTP on
# 127.0.0.1: the client-credentials grant (token endpoint, client_secret_basic) and token
# introspection (POST, a token obtained beforehand), with wrk at 1, 16 and 64 connections.
# When PostgreSQL answers (pg_isready on PG_URL), iamd runs a second time on PostgreSQL, in a
# database created for the run and dropped on exit, and its figures are printed beside
# SQLite's. Then password login: iamd's POST /login (JSON body, 16 accounts made for the run)
# at 16 connections against a bare Argon2id verify at the same cost (the default
# PasswordPolicy) with every core busy (iam-core's argon2_rate example).
# Prints requests per second and their ratios, and the peak RSS (VmHWM) of every server over
# the OAuth workloads, and of iamd after the login workload too.
#
#   examples/peer-bench/run.sh              # 10 s per run
#   DURATION=5 examples/peer-bench/run.sh   # shorter runs
#   ROUNDS=3 examples/peer-bench/run.sh     # every figure the median of 3 rounds, the
#                                           # servers, and logins and bare verifies, taking
#                                           # turns within each round
#   PG_URL=postgres://user@host:5432/db examples/peer-bench/run.sh
#                                           # the PostgreSQL server and a database to connect
#                                           # to for creating the run's own (default
#                                           # postgres://postgres@127.0.0.1:5432/test)
#
# Needs cargo, node (oidc-provider supports 22 LTS and later; 20 runs it with a warning), npm,
# curl and jq; installs wrk from Debian (apt-get) when it is missing; uses pg_isready and psql
# for the PostgreSQL run (skipped without them). Everything else lives in a scratch folder that
# is removed on exit, with the servers and the run's database.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-"1 16 64"}
IAMD_PORT=${IAMD_PORT:-18480}
PEER_PORT=${PEER_PORT:-13080}
IAMD_PG_PORT=${IAMD_PG_PORT:-18481}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/peer-bench.XXXXXX")
# Per server, by key (iamd, iamd-pg, node-oidc-provider): process id, benchmark client,
# endpoints.
declare -A pid client_id client_secret token_url introspect_url
# The run's PostgreSQL database, once created.
pg_db=""

cleanup() {
    for p in "${pid[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [[ -n "$pg_db" ]]; then
        psql -qX "$PG_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null ||
            printf 'peer-bench: could not drop the database %s\n' "$pg_db" >&2
    fi
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

# Fails when something already listens on port $1 (its setting is $2): wait_for would take
# that for the server being started.
expect_free_port() {
    if curl -so /dev/null "http://127.0.0.1:$1/"; then
        die "port $1 is taken by another program; choose another with $2=..."
    fi
}

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
expect_free_port "$PEER_PORT" PEER_PORT
npm install --prefix "$scratch/peer" --no-audit --no-fund --silent oidc-provider@9 >&2
cp "$here/provider.mjs" "$scratch/peer/provider.mjs"
peer_version=$(jq -r .version "$scratch/peer/node_modules/oidc-provider/package.json")
client_id[node-oidc-provider]=bench
client_secret[node-oidc-provider]=$(head -c 32 /dev/urandom | base64 | tr -d '=+/\n')
PEER_PORT=$PEER_PORT PEER_CLIENT_ID=${client_id[node-oidc-provider]} \
    PEER_CLIENT_SECRET=${client_secret[node-oidc-provider]} \
    node "$scratch/peer/provider.mjs" >"$scratch/peer.log" 2>&1 &
pid[node-oidc-provider]=$!
peer_url="http://127.0.0.1:$PEER_PORT"
wait_for "$peer_url/.well-known/openid-configuration" "${pid[node-oidc-provider]}" \
    "$scratch/peer.log"
peer_meta=$(curl -fsS "$peer_url/.well-known/openid-configuration")
token_url[node-oidc-provider]=$(jq -r .token_endpoint <<<"$peer_meta")
introspect_url[node-oidc-provider]=$(jq -r .introspection_endpoint <<<"$peer_meta")

# --- iamd ----------------------------------------------------------------------------------
say "building iamd and the Argon2id rate example (release)"
(cd "$root" && cargo build --release --quiet -p iamd &&
    cargo build --release --quiet -p iam-core --example argon2_rate)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | jq -r .target_directory)

declare -A admin_token base_url

# Starts iamd as server $1 (iamd, iamd-pg) on port $2 (the setting $3) with the extra
# arguments $4...: plain HTTP, data in the scratch folder, and no rate limits (the load comes
# from one address, which the default per-address limits would throttle at once). Logs in as
# the first admin and registers the benchmark client; fills the arrays above under the key $1.
start_iamd() {
    local key=$1 port=$2 setting=$3 url registered meta
    shift 3
    expect_free_port "$port" "$setting"
    mkdir -p "$scratch/$key"
    cat >"$scratch/$key.toml" <<TOML
listen = "127.0.0.1:$port"
http = true
data_dir = "$scratch/$key"
rate_limit_burst = 0
TOML
    RUST_LOG=warn "$target_dir/release/iamd" --config "$scratch/$key.toml" "$@" \
        >"$scratch/$key.out" 2>"$scratch/$key.log" &
    pid[$key]=$!
    url="http://127.0.0.1:$port"
    base_url[$key]=$url
    wait_for "$url/.well-known/oauth-authorization-server" "${pid[$key]}" "$scratch/$key.log"
    local password
    password=$(sed -n 's/^  password: //p' "$scratch/$key.out")
    [[ -n "$password" ]] || die "$key printed no initial admin password"
    admin_token[$key]=$(jq -n --arg p "$password" '{username: "admin", password: $p}' |
        curl -fsS "$url/login" -H 'content-type: application/json' --data-binary @- |
        jq -r .access_token)
    registered=$(curl -fsS "$url/clients" -H "authorization: Bearer ${admin_token[$key]}" \
        -H 'content-type: application/json' \
        -d '{"name": "bench", "kind": "confidential", "grant_types": ["client_credentials"]}')
    client_id[$key]=$(jq -r .client.id <<<"$registered")
    client_secret[$key]=$(jq -r .client_secret <<<"$registered")
    meta=$(curl -fsS "$url/.well-known/oauth-authorization-server")
    token_url[$key]=$(jq -r .token_endpoint <<<"$meta")
    introspect_url[$key]=$(jq -r .introspection_endpoint <<<"$meta")
}

start_iamd iamd "$IAMD_PORT" IAMD_PORT
iamds=(iamd)
if command -v pg_isready >/dev/null && command -v psql >/dev/null &&
    pg_isready -q -d "$PG_URL"; then
    pg_db="peer_bench_$$_$(date +%s)"
    say "PostgreSQL answers: iamd on the database $pg_db too"
    psql -qX "$PG_URL" -c "CREATE DATABASE $pg_db" >/dev/null
    start_iamd iamd-pg "$IAMD_PG_PORT" IAMD_PG_PORT --store "${PG_URL%/*}/$pg_db"
    iamds+=(iamd-pg)
else
    say "PostgreSQL does not answer at ${PG_URL##*@} (pg_isready): SQLite only"
fi

# --- the load ------------------------------------------------------------------------------
# A fresh access token from server $1's token endpoint for its benchmark client.
access_token() {
    curl -fsS -u "${client_id[$1]}:${client_secret[$1]}" -d grant_type=client_credentials \
        "${token_url[$1]}" | jq -re .access_token
}

# Checks that introspecting $2 at server $1 as its benchmark client says active (a token
# evicted or refused would make introspection a cheaper "inactive" answer).
expect_active() {
    [[ $(curl -fsS -u "${client_id[$1]}:${client_secret[$1]}" --data-urlencode "token=$2" \
        "${introspect_url[$1]}" | jq -r .active) == true ]] ||
        die "introspection at $1 does not report the benchmark token active"
}

declare -A rps

# Requests per second of wrk at $2 connections against $1, into the variable RESULT; the
# request is post.lua's (BENCH_BASIC, BENCH_TYPE, BENCH_BODY, BENCH_SPREAD). Fails when any
# answer is not 2xx.
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

# One workload on one server at each of $CONNECTIONS, after a short warm-up: $1 workload key,
# $2 server key, $3 url, $4 body, $5 HTTP Basic credentials "id:secret" (empty: none), $6 the
# body's content type (default a form). Appends to rps[workload,server,connections] (one
# figure per round, space-separated).
workload() {
    export BENCH_BASIC BENCH_BODY BENCH_TYPE BENCH_SPREAD=${BENCH_SPREAD:-}
    BENCH_BASIC=""
    [[ -z "${5:-}" ]] || BENCH_BASIC=$(printf '%s' "$5" | base64 -w0)
    BENCH_BODY=$4
    BENCH_TYPE=${6:-application/x-www-form-urlencoded}
    DURATION=2 load "$3" 16
    for c in $CONNECTIONS; do
        say "$2 $1: $c connection(s), ${DURATION}s"
        load "$3" "$c"
        rps[$1,$2,$c]="${rps[$1,$2,$c]:+${rps[$1,$2,$c]} }$RESULT"
    done
}

# The OAuth workloads of server $1, as its benchmark client.
oauth_workloads() {
    local key=$1 basic="${client_id[$1]}:${client_secret[$1]}" at
    workload client-credentials "$key" "${token_url[$key]}" grant_type=client_credentials "$basic"
    # The token is taken after the client-credentials load: node-oidc-provider's in-memory
    # adapter is an LRU of 1000 entries, so a token taken earlier would have been evicted.
    at=$(access_token "$key")
    expect_active "$key" "$at"
    workload introspection "$key" "${introspect_url[$key]}" "token=$at" "$basic"
    expect_active "$key" "$at"
}

vmhwm() { awk '/^VmHWM:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }

servers=("${iamds[@]}" node-oidc-provider)
declare -A oauth_rss
# The servers take turns within each round, so a slow spell of the box falls on all of them.
for round in $(seq "$ROUNDS"); do
    [[ $ROUNDS -eq 1 ]] || say "round $round of $ROUNDS"
    for key in "${servers[@]}"; do
        oauth_workloads "$key"
    done
done
for key in "${servers[@]}"; do
    oauth_rss[$key]=$(vmhwm "${pid[$key]}")
done

# Password login on the SQLite iamd: POST /login with a JSON body at 16 connections (each
# answer a new session), spread in turn over 16 accounts made for the run (concurrent attempts
# on one username beyond the throttle's free failures are refused, by design); then the bare
# verify rate at the same cost.
login_password=$(head -c 24 /dev/urandom | base64 | tr -d '=+/\n')
for i in $(seq 16); do
    jq -n --arg u "bench-$i" --arg p "$login_password" '{username: $u, password: $p}' |
        curl -fsS -o /dev/null "${base_url[iamd]}/accounts" \
            -H "authorization: Bearer ${admin_token[iamd]}" -H 'content-type: application/json' \
            --data-binary @-
done
login_body=$(jq -nc --arg p "$login_password" '{username: "bench-%d", password: $p}')
# Logins and bare verifies take turns, ROUNDS times: both are CPU-bound on every core, so a
# neighbour's load on a shared host moves them alike within a round.
verify_rates=""
for round in $(seq "$ROUNDS"); do
    BENCH_SPREAD=16 CONNECTIONS=16 workload login iamd "${base_url[iamd]}/login" "$login_body" \
        "" application/json
    say "bare Argon2id verify, every core busy, ${DURATION}s"
    argon2_out=$("$target_dir/release/examples/argon2_rate" "$DURATION")
    verify_rates="${verify_rates:+$verify_rates }$(tail -n1 <<<"$argon2_out")"
done
argon2_what=$(head -n1 <<<"$argon2_out" | sed 's/: .* on / on /')

# $1 / $2 to two decimals, or n/a.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "n/a" }'
}
# A rate rounded, or n/a when it was not measured.
rate() { if [[ -n "$1" ]]; then printf '%.0f' "$1"; else printf 'n/a'; fi; }
# The median of the space-separated figures $1 (empty when there are none).
median() {
    tr ' ' '\n' <<<"$1" | sort -g | awk 'NF { v[++n] = $1 }
        END { if (n) print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }'
}

pg_version="not run"
if [[ -n "$pg_db" ]]; then
    pg_version=$(psql -qXtA "$PG_URL" -c 'SHOW server_version' | cut -d' ' -f1)
fi
printf '\niamd (release; SQLite, and PostgreSQL %s) vs node-oidc-provider %s (node %s,\n' \
    "$pg_version" "$peer_version" "$(node --version)"
printf 'in-memory), plain HTTP, wrk -t1 -cN -d%ss, %s CPU(s)' "$DURATION" "$(nproc)"
if [[ $ROUNDS -gt 1 ]]; then
    printf '; each figure the median of %s rounds' "$ROUNDS"
fi
printf '\n\n'
printf '| workload | connections | iamd SQLite req/s | iamd PostgreSQL req/s '
printf '| node-oidc-provider req/s | SQLite / node | PostgreSQL / node |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for w in client-credentials introspection; do
    for c in $CONNECTIONS; do
        a=$(median "${rps[$w,iamd,$c]}")
        p=$(median "${rps[$w,iamd-pg,$c]:-}")
        b=$(median "${rps[$w,node-oidc-provider,$c]}")
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${w/-/ }" "$c" "$(rate "$a")" \
            "$(rate "$p")" "$(rate "$b")" "$(ratio "$a" "$b")" "$(ratio "$p" "$b")"
    done
done
printf '\nPassword login, iamd on SQLite vs a bare Argon2id verify (%s)\n\n' "$argon2_what"
printf '| connections | iamd POST /login per s | bare verifies per s | iamd / bare |\n'
printf '| ---: | ---: | ---: | ---: |\n'
login_rate=$(median "${rps[login,iamd,16]}")
verify_rate=$(median "$verify_rates")
printf '| 16 | %s | %s | %s |\n' "$(rate "$login_rate")" "$(rate "$verify_rate")" \
    "$(ratio "$login_rate" "$verify_rate")"
if [[ $ROUNDS -gt 1 ]]; then
    printf '\nEach round (logins per s / bare verifies per s):'
    read -ra logins <<<"${rps[login,iamd,16]}"
    read -ra verifies <<<"$verify_rates"
    for i in "${!logins[@]}"; do
        printf ' %s/%s = %s' "$(rate "${logins[$i]}")" "$(rate "${verifies[$i]}")" \
            "$(ratio "${logins[$i]}" "${verifies[$i]}")"
    done
    printf '\n'
fi
printf '\nPeak RSS (VmHWM) over the OAuth workloads:'
sep=' '
for key in "${servers[@]}"; do
    printf '%s%s %s' "$sep" "$key" "${oauth_rss[$key]}"
    sep=', '
done
printf '\niamd (SQLite) after the login workload as well: %s\n' "$(vmhwm "${pid[iamd]}")"
