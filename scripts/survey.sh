#!/usr/bin/env bash
# Runs a default `echo-harness check` against every echo server and TCP proxy this script
# knows from the Debian packages (issue 11, part 4), and prints one line per program: what it
# is, the verdict, and where the failing case was saved. docs/found-in-the-wild.md holds the
# findings of the last run and what each one means.
#
#   scripts/survey.sh [--bin PATH] [--seed N] [--out DIR] [--only NAME] [-- EXTRA CHECK ARGS]
#
# Programs that are not installed are listed as SKIPPED. Install them with
#   apt-get install socat ncat ucspi-tcp busybox xinetd inetutils-inetd haproxy \
#     nginx-light libnginx-mod-stream rinetd redir pen 6tunnel simpleproxy
# Exit code: 0 when every installed program was checked (whatever the verdicts), 2 on bad use.
set -euo pipefail

bin=""
seed=1
out=survey-results
only=""
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "survey.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  cd "$(dirname "$0")/.."
  cargo build --release --quiet
  bin=$PWD/target/release/echo-harness
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
conf=$(mktemp -d)
trap 'rm -rf "$conf"' EXIT

# Each program: NAME|NEEDS (the executable that must be installed)|CMD for --spawn. `{port}`,
# `{upstream}` and `{addr}` are check's placeholders; $conf is expanded here, so programs
# that read a configuration file write it there first, from `sh -c`. A CMD of the form
# `@ADDR CMD` listens on a fixed ADDR: it is started here, and checked with --target.
# shellcheck disable=SC2016 # expanded by the `sh -c` of each command, not here
split='u={upstream}; h=${u%:*}; p=${u##*:}'
programs=(
  # Echo servers.
  "socat-exec-cat|socat|socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork EXEC:cat"
  "socat-pipe|socat|socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork PIPE"
  "ncat-exec-cat|ncat|ncat -l -k 127.0.0.1 {port} --exec /bin/cat"
  "tcpserver-cat|tcpserver|tcpserver -R -H -l 0 127.0.0.1 {port} cat"
  "busybox-nc-cat|busybox|busybox nc -ll -p {port} -e cat"
  "xinetd-echo|xinetd|sh -c 'printf \"service echo\\n{\\n type = INTERNAL UNLISTED\\n id = echo-stream\\n socket_type = stream\\n protocol = tcp\\n port = {port}\\n bind = 127.0.0.1\\n wait = no\\n user = root\\n}\\n\" > $conf/xinetd-{port}.conf && exec xinetd -dontfork -pidfile $conf/xinetd-{port}.pid -f $conf/xinetd-{port}.conf'"
  # The same without the default rate limit (cps = 50 10: 50 connections a second, then off for 10 s).
  "xinetd-echo-cps|xinetd|sh -c 'printf \"service echo\\n{\\n type = INTERNAL UNLISTED\\n id = echo-stream\\n socket_type = stream\\n protocol = tcp\\n port = {port}\\n bind = 127.0.0.1\\n wait = no\\n cps = 10000 1\\n user = root\\n}\\n\" > $conf/xinetd-cps-{port}.conf && exec xinetd -dontfork -pidfile $conf/xinetd-cps-{port}.pid -f $conf/xinetd-cps-{port}.conf'"
  # inetd's internal services are found by service name only, so this one is on port 7.
  "inetutils-inetd-echo|inetutils-inetd|@127.0.0.1:7 sh -c 'echo \"127.0.0.1:echo stream tcp nowait root internal\" > $conf/inetd.conf && exec inetutils-inetd -d $conf/inetd.conf'"
  # Proxies, in front of a built-in echo server.
  "socat-proxy|socat|socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork TCP:{upstream}"
  "ncat-proxy|ncat|sh -c '$split; exec ncat -l -k 127.0.0.1 {port} --sh-exec \"exec ncat \$h \$p\"'"
  "haproxy|haproxy|sh -c 'printf \"defaults\\n mode tcp\\n timeout connect 5s\\n timeout client 60s\\n timeout server 60s\\nfrontend f\\n bind 127.0.0.1:{port}\\n default_backend b\\nbackend b\\n server s {upstream}\\n\" > $conf/haproxy-{port}.cfg && exec haproxy -db -f $conf/haproxy-{port}.cfg'"
  "nginx-stream|nginx|sh -c 'mkdir -p $conf/nginx-{port} && printf \"load_module /usr/lib/nginx/modules/ngx_stream_module.so;\\ndaemon off;\\npid $conf/nginx-{port}/pid;\\nerror_log stderr;\\nevents {}\\nstream { server { listen 127.0.0.1:{port}; proxy_pass {upstream}; } }\\n\" > $conf/nginx-{port}/nginx.conf && exec nginx -p $conf/nginx-{port} -c $conf/nginx-{port}/nginx.conf'"
  # The same, with the directive that keeps the other direction open after a FIN (nginx 1.21.4+).
  "nginx-stream-half-close|nginx|sh -c 'mkdir -p $conf/nginx-hc-{port} && printf \"load_module /usr/lib/nginx/modules/ngx_stream_module.so;\\ndaemon off;\\npid $conf/nginx-hc-{port}/pid;\\nerror_log stderr;\\nevents {}\\nstream { server { listen 127.0.0.1:{port}; proxy_pass {upstream}; proxy_half_close on; } }\\n\" > $conf/nginx-hc-{port}/nginx.conf && exec nginx -p $conf/nginx-hc-{port} -c $conf/nginx-hc-{port}/nginx.conf'"
  "rinetd|rinetd|sh -c '$split; echo \"127.0.0.1 {port} \$h \$p\" > $conf/rinetd-{port}.conf && exec rinetd -f -c $conf/rinetd-{port}.conf'"
  "redir|redir|redir -n 127.0.0.1:{port} {upstream}"
  "pen|pen|pen -f -r 127.0.0.1:{port} {upstream}"
  "6tunnel|6tunnel|sh -c '$split; exec 6tunnel -d -4 -l 127.0.0.1 {port} \$h \$p'"
  "simpleproxy|simpleproxy|simpleproxy -L 127.0.0.1:{port} -R {upstream}"
)

printf '%-22s %-8s %s\n' PROGRAM VERDICT DETAIL
for entry in "${programs[@]}"; do
  IFS='|' read -r name needs cmd <<<"$entry"
  if [ -n "$only" ] && [ "$only" != "$name" ]; then continue; fi
  if ! command -v "$needs" >/dev/null 2>&1; then
    printf '%-22s %-8s %s\n' "$name" SKIPPED "$needs is not installed"
    continue
  fi
  log=$out/$name.log
  target=(--spawn "$cmd")
  pid=""
  if [[ $cmd == @* ]]; then
    addr=${cmd%% *}
    addr=${addr#@}
    setsid bash -c "${cmd#* }" >"$out/$name.server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then break; fi
      sleep 0.1
    done
    target=(--target "$addr")
  fi
  set +e
  timeout 600 "$bin" check --seed "$seed" "${target[@]}" --save "$out/$name" --json "${extra[@]}" >"$out/$name.json" 2>"$log"
  code=$?
  set -e
  if [ -n "$pid" ]; then
    kill -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  detail=$(python3 - "$out/$name.json" <<'PY' 2>/dev/null || echo "exit $code, see $log"
import json, sys
j = json.load(open(sys.argv[1]))
f = j.get("failure") or {}
if j.get("verdict") == "passed":
    print(f"{j.get('cases')} cases, {j.get('bytes_verified')} bytes")
else:
    d = f.get("divergence") or f
    print(f"{d.get('kind', '?')} at case {f.get('case_index', '?')}; saved {f.get('saved', '?')}")
PY
)
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("verdict","error"))' "$out/$name.json" 2>/dev/null || echo "error")
  printf '%-22s %-8s %s\n' "$name" "$verdict" "$detail"
done
