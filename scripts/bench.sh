#!/usr/bin/env bash
# Side-by-side benchmark of echo-harness's server (A) against the minimal tokio echo server of
# examples/tokio_reference_echo.rs (B), as issue 7 asks: both run at once on free loopback
# ports, the workloads run interleaved A B A B for BENCH_PAIRS pairs, and the table shows for
# each workload the median ratio A/B with its min-max. Ratios, because absolute figures on a
# shared 2-core machine drift by +-30% between runs.
#
#   scripts/bench.sh                      # about 3-4 minutes with the defaults
#   BENCH_PAIRS=9 BENCH_RR_DURATION=5s scripts/bench.sh
#
# Environment (defaults in brackets):
#   BENCH_PAIRS [5]            A/B pairs per workload (at least 5 for a ratio worth quoting)
#   BENCH_RR_DURATION [2s]     measured part of each request/response run
#   BENCH_WARMUP [300ms]       warm-up of each run, not counted
#   BENCH_STREAM_BYTES [256MiB] bytes of the stream workload
#   BENCH_HOLD_COUNT [10000]   connections held in the connections workload
#   BENCH_HOLD_ECHO [64KiB]    bytes each held connection echoes before it goes idle
#   BENCH_CLIENT_THREADS [2]   worker threads of the load generator
#   BENCH_SERVE_ARGS []        extra flags for our server, e.g. "--splice" or "--portable"
#   BENCH_WORKLOADS [rr64 rr512 rr1m stream connections proxy]
#                              which workloads to run (rr1m, 1 MiB x 1 connection, is not one
#                              of issue 7's targets: it shows what Nagle costs the reference;
#                              proxy compares our server through `echo-harness proxy` without
#                              toxics (A) with our server direct (B): rr 64 B p50 latency and a
#                              stream, whose ratio is the share of direct throughput kept)
#   BENCH_SKIP_BUILD [unset]   set to 1 to use the release binaries as they are
#   CARGO_TARGET_DIR [target]  where cargo builds, and so where the binaries are taken from
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${BENCH_PAIRS:-5}
rr_duration=${BENCH_RR_DURATION:-2s}
warmup=${BENCH_WARMUP:-300ms}
stream_bytes=${BENCH_STREAM_BYTES:-256MiB}
hold_count=${BENCH_HOLD_COUNT:-10000}
hold_echo=${BENCH_HOLD_ECHO:-64KiB}
client_threads=${BENCH_CLIENT_THREADS:-2}
read -r -a serve_args <<<"${BENCH_SERVE_ARGS:-}"
workloads=" ${BENCH_WORKLOADS:-rr64 rr512 rr1m stream connections proxy} "

# Where cargo builds them: CARGO_TARGET_DIR when set, else ./target.
target_dir=${CARGO_TARGET_DIR:-target}
bin=$target_dir/release/echo-harness
reference=$target_dir/release/examples/tokio_reference_echo
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  echo "building (release)..." >&2
  cargo build --release --quiet --bin echo-harness --example tokio_reference_echo
fi

# Both servers and this script need one descriptor per held connection.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
server_pids=()
cleanup() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: starts a server whose first line is `listening on ADDR`, waits for that
# line (through a fifo, never a sleep), and sets ${NAME}_addr and ${NAME}_pid.
start() {
  local name=$1 line fd
  shift
  mkfifo "$work/$name.fifo"
  "$@" >"$work/$name.fifo" 2>"$work/$name.err" &
  local pid=$!
  server_pids+=("$pid")
  exec {fd}<"$work/$name.fifo"
  if ! IFS= read -r -t 10 line <&"$fd" || [[ $line != "listening on "* ]]; then
    echo "bench.sh: $name did not announce its address: ${line:-nothing}" >&2
    cat "$work/$name.err" >&2
    exit 3
  fi
  printf -v "${name}_addr" '%s' "${line#listening on }"
  printf -v "${name}_pid" '%s' "$pid"
}

start ours "$bin" serve --listen 127.0.0.1:0 --idle-timeout off "${serve_args[@]}"
start ref "$reference" --listen 127.0.0.1:0
# shellcheck disable=SC2154 # set by `start` through printf -v
echo "ours (A): echo-harness serve ${serve_args[*]} at $ours_addr (pid $ours_pid)" >&2
# shellcheck disable=SC2154
echo "reference (B): tokio_reference_echo at $ref_addr (pid $ref_pid)" >&2
if [[ $workloads == *" proxy "* ]]; then
  start prox "$bin" proxy --listen 127.0.0.1:0 --upstream "$ours_addr"
  # shellcheck disable=SC2154
  echo "proxy: echo-harness proxy at $prox_addr in front of A (pid $prox_pid)" >&2
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2

# field JSON NAME: the number of top-level or nested field NAME in one line of JSON.
field() {
  local value
  value=$(grep -o "\"$2\":[-0-9.eE+]*" <<<"$1" | head -n1 | cut -d: -f2)
  echo "${value:-nan}"
}

# run ADDR ARGS...: one bench run against ADDR; prints its JSON line, fails on a non-zero exit.
run() {
  local addr=$1
  shift
  "$bin" bench --target "$addr" --json --threads "$client_threads" "$@"
}

results="$work/results"
: >"$results"

# record WORKLOAD METRIC A B HIGHER_IS_BETTER: one pair's figures.
record() {
  echo "$1|$2|$3|$4|$5" >>"$results"
}

# workload NAME METRIC ARGS...: BENCH_PAIRS pairs of runs, A then B (addresses in a_addr and
# b_addr, ours and the reference unless the caller says otherwise).
workload() {
  local name=$1 metric=$2 pair a b
  shift 2
  for pair in $(seq 1 "$pairs"); do
    a=$(run "${a_addr:-$ours_addr}" "$@")
    b=$(run "${b_addr:-$ref_addr}" "$@")
    record "$name" "$metric" "$(field "$a" "$metric")" "$(field "$b" "$metric")" up
    if [ "$metric" = msg_per_sec ]; then
      record "$name" p99_us "$(field "$a" p99)" "$(field "$b" p99)" down
    fi
    echo "  $name pair $pair: A $(field "$a" "$metric")  B $(field "$b" "$metric")" >&2
  done
}

if [[ $workloads == *" rr64 "* ]]; then
  echo "rr 64 B x 1 connection..." >&2
  workload "rr 64 B, 1 conn" msg_per_sec --warmup "$warmup" rr --connections 1 --size 64 --duration "$rr_duration"
fi
if [[ $workloads == *" rr512 "* ]]; then
  echo "rr 512 B x 50 connections..." >&2
  workload "rr 512 B, 50 conns" msg_per_sec --warmup "$warmup" rr --connections 50 --size 512 --duration "$rr_duration"
fi
if [[ $workloads == *" rr1m "* ]]; then
  echo "rr 1 MiB x 1 connection..." >&2
  workload "rr 1 MiB, 1 conn" msg_per_sec --warmup "$warmup" rr --connections 1 --size 1MiB --duration "$rr_duration"
fi
if [[ $workloads == *" stream "* ]]; then
  echo "stream $stream_bytes..." >&2
  workload "stream $stream_bytes" mb_per_sec --warmup "$warmup" stream --bytes "$stream_bytes"
fi
if [[ $workloads == *" connections "* ]]; then
  echo "connections $hold_count x $hold_echo..." >&2
  for pair in $(seq 1 "$pairs"); do
    a=$(run "$ours_addr" connections --count "$hold_count" --echo-bytes "$hold_echo" --rss-pid "$ours_pid")
    b=$(run "$ref_addr" connections --count "$hold_count" --echo-bytes "$hold_echo" --rss-pid "$ref_pid")
    for json in "$a" "$b"; do
      if [ "$(field "$json" succeeded)" != "$hold_count" ]; then
        echo "bench.sh: not every connection was held: $json" >&2
      fi
    done
    record "connections $hold_count" elapsed_ms "$(field "$a" elapsed_ms)" "$(field "$b" elapsed_ms)" down
    record "connections $hold_count" rss_mib "$(awk -v k="$(field "$a" rss_kib)" 'BEGIN{printf "%.1f", k/1024}')" \
      "$(awk -v k="$(field "$b" rss_kib)" 'BEGIN{printf "%.1f", k/1024}')" down
    echo "  connections pair $pair: RSS A $(field "$a" rss_kib) KiB, B $(field "$b" rss_kib) KiB" >&2
  done
fi
if [[ $workloads == *" proxy "* ]]; then
  echo "proxy overhead (A = through the proxy, B = direct)..." >&2
  a_addr=$prox_addr b_addr=$ours_addr workload "proxy: rr 64 B, 1 conn" msg_per_sec \
    --warmup "$warmup" rr --connections 1 --size 64 --duration "$rr_duration"
  for pair in $(seq 1 "$pairs"); do
    a=$(run "$prox_addr" --warmup "$warmup" rr --connections 1 --size 64 --duration "$rr_duration")
    b=$(run "$ours_addr" --warmup "$warmup" rr --connections 1 --size 64 --duration "$rr_duration")
    record "proxy: rr 64 B, 1 conn" p50_us "$(field "$a" p50)" "$(field "$b" p50)" down
  done
  a_addr=$prox_addr b_addr=$ours_addr workload "proxy: stream $stream_bytes" mb_per_sec \
    --warmup "$warmup" stream --bytes "$stream_bytes"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The table: per workload and metric, medians of A and B, and the ratio "how much better A
# is" (A/B when higher is better, B/A when lower is better): median and min-max over pairs.
echo
echo "$pairs pairs, A = echo-harness serve, B = tokio reference (proxy rows: A = through the proxy, B = direct); ratio > 1 means A is better"
printf '| %-22s | %-12s | %12s | %12s | %-22s |\n' workload metric "A (median)" "B (median)" "ratio median (min-max)"
printf '|%s|%s|%s|%s|%s|\n' "------------------------" "--------------" "--------------" "--------------" "------------------------"
cut -d'|' -f1,2 "$results" | awk '!seen[$0]++' | while IFS='|' read -r name metric; do
  # Matched whole: "rr 64 B, 1 conn" is also the end of "proxy: rr 64 B, 1 conn".
  awk -F'|' -v name="$name" -v metric="$metric" '$1 == name && $2 == metric' "$results" | awk -F'|' '
    function median(v, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { n++; a[n] = $3; b[n] = $4; r[n] = ($5 == "up") ? $3 / $4 : $4 / $3 }
    END {
      ma = median(a, n); mb = median(b, n); mr = median(r, n)
      lo = r[1]; hi = r[n]
      ratio = sprintf("%.2fx (%.2f-%.2f)", mr, lo, hi)
      printf "| %-22s | %-12s | %12.1f | %12.1f | %-22s |\n", $1, $2, ma, mb, ratio
    }'
done
