#!/usr/bin/env bash
# Side-by-side load comparison on one machine, all on 127.0.0.1 (not part of CI):
#
#   upstream     nginx answering a static 200 (one worker); every proxy below forwards to it
#   nginx-hop    plain nginx reverse proxy, no auth: the floor any proxy pays
#   ours-seen    oidc-host (2 workers) with the filter, one token sent on every request
#   ours-first   oidc-host, a pool of distinct tokens, none sent twice (first seen by the filter)
#   apache-seen  Apache httpd + mod_auth_openidc (AuthType oauth20), the same single token
#   apache-first Apache httpd + mod_auth_openidc, the same pool of tokens
#   *-paced      upstream, nginx-hop, ours-seen and apache-seen again at a fixed offered load
#
# wrk with keep-alive: 1 thread, 32 connections, DURATION seconds per run. The first-seen runs are
# FIRST_ROUNDS rounds of FIRST_DURATION seconds, ours and Apache taking turns, each proxy going on
# through the pool of TOKENS tokens where its last round stopped, so that no token reaches a proxy
# twice (checked: a pool too small is reported). The paced runs are PACE_ROUNDS rounds of
# PACE_DURATION seconds, the four servers taking turns. Interleaved rounds keep a few seconds of
# disturbance on this kind of machine (a VM switching between a fast and a slow state, a
# neighbour's burst) from deciding a comparison: each figure of a row of rounds (requests/s, p50,
# p99) is its median over the rounds, and the rounds are printed too. Prints requests/s, p50 and
# p99 per run, the ratios, non-2xx counts, and the gateway's memory (VmRSS sampled during its
# saturated runs, VmHWM).
#
# Latency added is measured apart from throughput: at saturation each wrk connection sends again as
# soon as it has an answer, so a p99 there mostly says how long requests wait while the cores run
# another process. The paced runs offer the upstream, the nginx hop, ours and Apache the same
# load, about PACE_RATE requests/s (each connection waits before its next request, see
# load/paced.lua), well below what any of them can serve, and compare their p99 with the
# upstream's at that load.
#
# Usage: benches/load/compare.sh            (from the repository root; root or sudo for apt-get)
# Environment: DURATION (default 10), FIRST_ROUNDS (default 3), FIRST_DURATION (default 1 second
# per round), TOKENS (default 40000), CONNECTIONS (default 32), PACE_RATE (default 5000
# requests/s offered in the paced runs), PACE_ROUNDS (default 5), PACE_DURATION (default 4 seconds
# per paced round), KEEP=1 keeps the working directory (configs,
# logs, wrk output), PORT_BASE (default 18080; the four servers listen on PORT_BASE..PORT_BASE+3,
# so two runs on one machine can use different bases), OIDC_HOST=path runs that oidc-host binary
# instead of building target/release/oidc-host (to compare two builds back to back under the same
# conditions).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${DURATION:-10}
FIRST_ROUNDS=${FIRST_ROUNDS:-3}
FIRST_DURATION=${FIRST_DURATION:-1}
TOKENS=${TOKENS:-40000}
CONNECTIONS=${CONNECTIONS:-32}
PACE_RATE=${PACE_RATE:-5000}
PACE_ROUNDS=${PACE_ROUNDS:-5}
PACE_DURATION=${PACE_DURATION:-4}
# wrk waits whole milliseconds between a connection's requests.
PACE_MS=$(awk -v c="$CONNECTIONS" -v r="$PACE_RATE" 'BEGIN { m = int(c * 1000 / r + 0.5); print (m < 1 ? 1 : m) }')
if [ -n "${OIDC_HOST:-}" ]; then OIDC_HOST=$(realpath "$OIDC_HOST"); fi
PORT_BASE=${PORT_BASE:-18080}
P_UP=$PORT_BASE P_HOP=$((PORT_BASE + 1)) P_OURS=$((PORT_BASE + 2)) P_APACHE=$((PORT_BASE + 3))
MODS=/usr/lib/apache2/modules

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

WORK=$(mktemp -d /tmp/oidc-load.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT INT TERM

log() { echo "== $*" >&2; }

# --- tools ---------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
command -v apache2 >/dev/null || missing+=(apache2)
[ -f "$MODS/mod_auth_openidc.so" ] || missing+=(libapache2-mod-auth-openidc)
command -v openssl >/dev/null || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# --- build and tokens ----------------------------------------------------------------------------
cd "$ROOT"
if [ -z "${OIDC_HOST:-}" ]; then
  # oidc-host embeds the filter, built for wasm32-wasip1 by its build script.
  rustup target add wasm32-wasip1
  log "building oidc-host (release)"
  cargo build --release -p oidc-host
  OIDC_HOST=target/release/oidc-host
fi
log "minting $TOKENS tokens"
cargo run --release -q -p oidc-benches --example load_tokens -- "$WORK" "$TOKENS"
SEEN=$(head -n1 "$WORK/seen.txt")
openssl req -x509 -new -key testdata/keys/rsa-a.pem -subj /CN=bench -days 2 \
  -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK"/*

# --- servers -------------------------------------------------------------------------------------
wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1; logs in $WORK" >&2
  KEEP=1
  exit 1
}

nginx_conf() { # name workers server-block
  cat >"$WORK/$1.conf" <<EOF
worker_processes $2;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1-body;
  proxy_temp_path $WORK/$1-proxy;
  $3
}
EOF
}

nginx_conf upstream 1 "server { listen 127.0.0.1:$P_UP; location / { return 200 \"ok\n\"; } }"
nginx_conf hop 2 "upstream up { server 127.0.0.1:$P_UP; keepalive 64; }
  server { listen 127.0.0.1:$P_HOP; location / {
    proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
nginx -e "$WORK/upstream.err" -c "$WORK/upstream.conf" &
PIDS+=($!)
nginx -e "$WORK/hop.err" -c "$WORK/hop.conf" &
PIDS+=($!)

FILTER_CONFIG=$(printf '{"providers":[{"name":"bench","issuer":"https://idp.example.com","audiences":["api"],"jwks":%s}]}' "$(cat "$WORK/jwks.json")")
cat >"$WORK/gateway.yaml" <<EOF
listen: 127.0.0.1:$P_OURS
upstream: http://127.0.0.1:$P_UP
workers: 2
filter:
  config: '$FILTER_CONFIG'
EOF
"$OIDC_HOST" --log-level warn run --config "$WORK/gateway.yaml" >"$WORK/ours.log" 2>&1 &
OURS=$!
PIDS+=($OURS)

RUN_USER=""
[ "$(id -u)" -eq 0 ] && RUN_USER="User www-data
Group www-data"
cat >"$WORK/apache.conf" <<EOF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$P_APACHE
PidFile $WORK/apache.pid
DefaultRuntimeDir $WORK
ErrorLog $WORK/apache.err
LogLevel warn
$RUN_USER
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule auth_openidc_module $MODS/mod_auth_openidc.so
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_http_module $MODS/mod_proxy_http.so
OIDCCryptoPassphrase load-comparison-only
OIDCOAuthVerifyCertFiles bench#$WORK/cert.pem
OIDCOAuthRemoteUserClaim sub
<Location />
  AuthType oauth20
  Require valid-user
</Location>
ProxyPass / http://127.0.0.1:$P_UP/ keepalive=On
EOF
apache2 -f "$WORK/apache.conf" -DFOREGROUND &
PIDS+=($!)

for p in $P_UP $P_HOP $P_OURS $P_APACHE; do wait_port "$p"; done

# --- sanity: each auth proxy lets a valid token through and refuses a request without one ---------
for p in $P_OURS $P_APACHE; do
  ok=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SEEN" "http://127.0.0.1:$p/")
  no=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/")
  log "127.0.0.1:$p: valid token $ok, no token $no"
  if [ "$ok" != 200 ] || [ "$no" != 401 ]; then
    echo "proxy on $p does not enforce as expected; logs in $WORK" >&2
    KEEP=1
    exit 1
  fi
done

# --- load ----------------------------------------------------------------------------------------
sample_rss() { # max VmRSS (kB) of the gateway while it runs, into $WORK/rss.max
  local max=0 key v _
  while kill -0 "$OURS" 2>/dev/null; do
    # `read` is a builtin: the sampling itself starts no process.
    while read -r key v _; do
      if [ "$key" = VmRSS: ]; then
        [ "$v" -gt "$max" ] && max=$v && echo "$max" >"$WORK/rss.max"
        break
      fi
    done <"/proc/$OURS/status"
    sleep 0.2
  done
}

declare -A RPS P50 P99 NON2XX ERRS
to_ms() { # wrk latency (e.g. 512.00us, 1.20ms, 1.01s) -> ms
  awk -v v="$1" 'BEGIN { u = v; sub(/[0-9.]+/, "", u); n = v + 0;
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.3f", n }'
}
declare -A COUNT
run() { # name port seconds [wrk args...]
  local name=$1 port=$2 secs=$3
  shift 3
  log "$name"
  wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --timeout 5s --latency "http://127.0.0.1:$port/" "$@" \
    >"$WORK/$name.wrk"
  RPS[$name]=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$name.wrk")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$name.wrk")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$name.wrk")")
  NON2XX[$name]=$(awk '/Non-2xx or 3xx responses/ {print $NF}' "$WORK/$name.wrk")
  NON2XX[$name]=${NON2XX[$name]:-0}
  ERRS[$name]=$(awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' "$WORK/$name.wrk")
  ERRS[$name]=${ERRS[$name]:-none}
  COUNT[$name]=$(awk '/requests in/ {print $1}' "$WORK/$name.wrk")
  sleep 1
}

run upstream $P_UP "$DURATION"
run nginx-hop $P_HOP "$DURATION"
sample_rss &
SAMPLER=$!
PIDS+=($SAMPLER)
run ours-seen $P_OURS "$DURATION" -H "Authorization: Bearer $SEEN"
run apache-seen $P_APACHE "$DURATION" -H "Authorization: Bearer $SEEN"

median() { # numbers -> the middle one (the mean of the middle two for an even count)
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A ROUNDS_OF
rounds_done() { # name rounds: each figure of the name's row is the median over name-1..name-rounds
  local name=$1 n=$2 i rps=() p50=() p99=() count=0 non2xx=0 errs=none
  for i in $(seq 1 "$n"); do
    rps+=("${RPS[$name-$i]}") p50+=("${P50[$name-$i]}") p99+=("${P99[$name-$i]}")
    count=$((count + ${COUNT[$name-$i]})) non2xx=$((non2xx + ${NON2XX[$name-$i]}))
    [ "${ERRS[$name-$i]}" = none ] || errs="${ERRS[$name-$i]}"
  done
  RPS[$name]=$(median "${rps[@]}") P50[$name]=$(median "${p50[@]}") P99[$name]=$(median "${p99[@]}")
  COUNT[$name]=$count NON2XX[$name]=$non2xx ERRS[$name]=$errs
  ROUNDS_OF[$name]="rps ${rps[*]}; p99 ms ${p99[*]}"
}

declare -A NEXT_TOKEN=([ours-first]=1 [apache-first]=1)
for i in $(seq 1 "$FIRST_ROUNDS"); do
  for name in ours-first apache-first; do
    port=$P_OURS
    [ "$name" = apache-first ] && port=$P_APACHE
    run "$name-$i" "$port" "$FIRST_DURATION" -s benches/load/tokens.lua -- "$WORK/tokens.txt" \
      "${NEXT_TOKEN[$name]}"
    # Up to one request per connection was sent but not answered when wrk stopped: skip those.
    NEXT_TOKEN[$name]=$((${NEXT_TOKEN[$name]} + ${COUNT[$name-$i]} + CONNECTIONS))
  done
done
rounds_done ours-first "$FIRST_ROUNDS"
rounds_done apache-first "$FIRST_ROUNDS"
# The sampler wakes every 0.2 s (and `sleep` is a process): at the paced load that is enough to
# show in every server's p99, so it covers the saturated runs only; VmHWM covers the rest.
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true

PACED=(upstream-paced nginx-hop-paced ours-paced apache-paced)
for i in $(seq 1 "$PACE_ROUNDS"); do
  run "upstream-paced-$i" $P_UP "$PACE_DURATION" -s benches/load/paced.lua -- "$PACE_MS"
  run "nginx-hop-paced-$i" $P_HOP "$PACE_DURATION" -s benches/load/paced.lua -- "$PACE_MS"
  run "ours-paced-$i" $P_OURS "$PACE_DURATION" -H "Authorization: Bearer $SEEN" \
    -s benches/load/paced.lua -- "$PACE_MS"
  run "apache-paced-$i" $P_APACHE "$PACE_DURATION" -H "Authorization: Bearer $SEEN" \
    -s benches/load/paced.lua -- "$PACE_MS"
done
for name in "${PACED[@]}"; do rounds_done "$name" "$PACE_ROUNDS"; done
# Every run of ours is over: the high-water mark covers them all.
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$OURS/status")
RSS_MAX=$(cat "$WORK/rss.max" 2>/dev/null || echo 0)

# --- report --------------------------------------------------------------------------------------
echo
echo "wrk -t1 -c$CONNECTIONS, ${DURATION}s per run, first-seen: median of $FIRST_ROUNDS rounds of ${FIRST_DURATION}s over $TOKENS distinct tokens; $(nproc) cores"
printf '%-16s %12s %9s %10s %10s %8s  %s\n' run "requests/s" requests "p50 ms" "p99 ms" non-2xx "socket errors"
fail=0
for r in upstream nginx-hop ours-seen ours-first apache-seen apache-first "${PACED[@]}"; do
  printf '%-16s %12s %9s %10s %10s %8s  %s\n' "$r" "${RPS[$r]}" "${COUNT[$r]}" "${P50[$r]}" "${P99[$r]}" "${NON2XX[$r]}" "${ERRS[$r]}"
  [ "${NON2XX[$r]}" = 0 ] || fail=1
done
for r in ours-first apache-first; do
  if [ "$((${NEXT_TOKEN[$r]} - 1))" -gt "$TOKENS" ]; then
    echo "note: $r went through $((${NEXT_TOKEN[$r]} - 1)) tokens of a pool of $TOKENS, so some" \
      "were sent twice; raise TOKENS or lower FIRST_DURATION"
  fi
done
echo "paced: median of $PACE_ROUNDS rounds of ${PACE_DURATION}s; each connection waits 1..$((2 * PACE_MS - 1)) ms (mean ${PACE_MS}) before its next request (about $PACE_RATE requests/s offered); the seen-before token"
echo "rounds, in order:"
for r in ours-first apache-first "${PACED[@]}"; do
  printf '  %-16s %s\n' "$r" "${ROUNDS_OF[$r]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "ours-seen / apache-seen:    $(ratio "${RPS[ours-seen]}" "${RPS[apache-seen]}")x  (target >= 2.5)"
echo "ours-first / apache-first:  $(ratio "${RPS[ours-first]}" "${RPS[apache-first]}")x  (target >= 1.0)"
echo "ours-seen / nginx-hop:      $(ratio "${RPS[ours-seen]}" "${RPS[nginx-hop]}")x  (target >= 0.70)"
echo "ours-first / nginx-hop:     $(ratio "${RPS[ours-first]}" "${RPS[nginx-hop]}")x"
added() { awk -v a="${P99[$1]}" -v b="${P99[$2]}" 'BEGIN { printf "%.3f", a - b }'; }
echo "p99 added over upstream, paced: ours $(added ours-paced upstream-paced) ms (target <= 1 ms)," \
  "nginx hop $(added nginx-hop-paced upstream-paced) ms, Apache $(added apache-paced upstream-paced) ms"
echo "p99 added at saturation:    ours-seen $(added ours-seen upstream) ms," \
  "ours-first $(added ours-first upstream) ms  (target <= 1 ms)"
echo "gateway memory (2 workers): max VmRSS sampled $((RSS_MAX / 1024)) MiB, VmHWM $((HWM / 1024)) MiB  (target <= 64 MiB)"
if [ "$fail" = 0 ]; then echo "no non-2xx responses"; else echo "NON-2XX RESPONSES UNDER LOAD"; fi
exit "$fail"
