#!/usr/bin/env bash
# Reproduces a saved failure: builds the release binary if needed, replays the scenario file
# against a target, prints the report and exits with the replay's code (0: the case now passes,
# 1: the failure reproduces, 2: bad input, 3: the target cannot be reached or started).
#
# Usage: scripts/repro.sh FILE [--target ADDR | --spawn 'CMD'] [--artifact TARGET] [-- MORE...]
#   FILE               a scenario file, as `echo-harness check --save` writes it
#   --target ADDR      replay against the echo server at ADDR
#   --spawn 'CMD'      start the server under test (see `echo-harness check --help`)
#   (neither)          replay against the built-in server
#   --artifact TARGET  FILE is a crash input of fuzz target TARGET, not a scenario
# Environment: ECHO_HARNESS_BIN=path uses that binary instead of building target/release.
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

if [ $# -eq 0 ]; then
  usage >&2
  exit 2
fi

file=""
replay_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help)
      usage
      exit 0
      ;;
    --target|--spawn|--artifact)
      if [ $# -lt 2 ]; then
        echo "repro.sh: $1 needs a value (see --help)" >&2
        exit 2
      fi
      replay_args+=("$1" "$2")
      shift 2
      ;;
    --)
      shift
      replay_args+=("$@")
      break
      ;;
    -*)
      echo "repro.sh: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
    *)
      if [ -n "$file" ]; then
        echo "repro.sh: one FILE only (got '$file' and '$1')" >&2
        exit 2
      fi
      file=$1
      shift
      ;;
  esac
done

if [ -z "$file" ]; then
  echo "repro.sh: no FILE given (see --help)" >&2
  exit 2
fi
if [ ! -r "$file" ]; then
  echo "repro.sh: cannot read '$file'" >&2
  exit 2
fi

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${ECHO_HARNESS_BIN:-}
if [ -z "$bin" ]; then
  # cargo only rebuilds what changed, so this is quick when the binary is current.
  cargo build --release --quiet --manifest-path "$top/Cargo.toml" >&2
  bin="$top/target/release/echo-harness"
fi

set +e
"$bin" replay "$file" "${replay_args[@]}"
code=$?
set -e
exit "$code"
