#!/usr/bin/env bash
# Time to a verdict (issue 12, part 2): for every planted bug of examples/faulty_echo.rs and
# seeds 0 to 4 (or those given), runs a default `check --spawn` and prints, per bug, the time to
# the first detection (the campaign up to the failing case, its confirmation included) and to
# the verdict (shrinking and the final confirmation included), with the median and maximum of
# each; then the same over all runs.
#
#   scripts/verdict-times.sh [--bin PATH] [--seeds 0,1,2,3,4] [--modes a,b] [--jobs N]
#                            [--faulty PATH] [--raw DIR] [-- CHECK ARGS]
#   scripts/verdict-times.sh --report DIR [--modes a,b] [--seeds 0,1,2,3,4]
#
# --faulty PATH takes an already built faulty_echo (as --bin an already built echo-harness)
# instead of building it. --raw DIR keeps each run's JSON and stderr there (DIR/MODE-SEED.json,
# .log); the stderr holds the shrinker's phase times (ECHO_HARNESS_SHRINK_TIMES=1 is set; a
# binary from before they were added prints none). --report DIR prints the table of runs kept
# earlier with --raw DIR, running nothing. Per bug the table also gives the shrink time, steps,
# how many runs hit the shrink bound, and the minimal case's connections and bytes (medians),
# to compare two binaries' shrinking.
#
# Timings drift by ±30% on a loaded 2-core machine: compare runs interleaved, not one against a
# figure from another day. Exit code: 0 when it ran (a bug that was not caught is listed as
# MISSED), 2 on bad use.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
seeds=0,1,2,3,4
modes=""
jobs=2
raw=""
faulty=""
report=""
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --faulty) faulty=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "verdict-times.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
summarize() {
  python3 - "$1" "$modes" "$seeds" <<'PY'
import json, os, statistics, sys

out, modes, seeds = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
med = statistics.median
fmt = lambda xs, f: f"{f(xs):.1f}s" if xs else "-"
num = lambda xs: f"{med(xs):g}" if xs else "-"
print(f"{'bug':28} {'caught':>6} {'detect med':>10} {'detect max':>10} {'verdict med':>11} {'verdict max':>11}"
      f" {'shrink med':>10} {'steps med':>9} {'bound':>5} {'min conns':>9} {'min bytes':>9}")
all_detect, all_verdict = [], []
for mode in modes:
    detect, verdict, shrink, steps, conns, size, missed, bound = [], [], [], [], [], [], [], 0
    for seed in seeds:
        try:
            with open(os.path.join(out, f"{mode}-{seed}.json")) as f:
                run = json.load(f)
        except (OSError, ValueError):
            missed.append(f"{seed} (no JSON)")
            continue
        failure = run.get("failure")
        if not failure:
            missed.append(seed)
            continue
        total = run["elapsed_ms"] / 1000
        verdict.append(total)
        detect.append(total - failure.get("shrink_ms", 0) / 1000)
        shrink.append(failure.get("shrink_ms", 0) / 1000)
        steps.append(failure.get("shrink_steps", 0))
        bound += bool(failure.get("shrink_hit_bound"))
        conns.append(failure.get("minimal_connections", 0))
        size.append(failure.get("minimal_bytes", 0))
    all_detect += detect
    all_verdict += verdict
    line = (f"{mode:28} {len(verdict):>3}/{len(seeds):<2} {fmt(detect, med):>10} {fmt(detect, max):>10}"
            f" {fmt(verdict, med):>11} {fmt(verdict, max):>11} {fmt(shrink, med):>10} {num(steps):>9}"
            f" {bound:>5} {num(conns):>9} {num(size):>9}")
    if missed:
        line += f"  MISSED seeds {', '.join(map(str, missed))}"
    print(line)
print(f"{'all':28} {len(all_verdict):>6} {fmt(all_detect, med):>10} {fmt(all_detect, max):>10} {fmt(all_verdict, med):>11} {fmt(all_verdict, max):>11}")
PY
}

if [ -n "$report" ]; then
  if [ -z "$modes" ]; then
    modes=$(find "$report" -maxdepth 1 -name '*.json' | sed 's|.*/||; s|-[0-9]*\.json$||' | sort -u | paste -sd, -)
  fi
  summarize "$report"
  exit 0
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "$faulty" ]; then
  cargo build --release --quiet --example faulty_echo
  faulty=$target/release/examples/faulty_echo
fi
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=$target/release/echo-harness
fi
if [ -z "$modes" ]; then
  # Every mode its --help lists, but `correct`.
  modes=$("$faulty" --help 2>&1 | awk '/^  [a-z0-9-]+  /{print $1}' | grep -vx correct | paste -sd, -)
fi
if [ -n "$raw" ]; then
  mkdir -p "$raw"
  out=$raw
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

run_one() {
  local mode=$1 seed=$2
  ECHO_HARNESS_SHRINK_TIMES=1 \
    "$bin" check --seed "$seed" --spawn "$faulty --mode $mode --listen {addr}" \
    --save "$out/saved-$mode-$seed" --json "${extra[@]}" >"$out/$mode-$seed.json" 2>"$out/$mode-$seed.log" || true
}

IFS=, read -r -a mode_list <<<"$modes"
IFS=, read -r -a seed_list <<<"$seeds"
running=0
for mode in "${mode_list[@]}"; do
  for seed in "${seed_list[@]}"; do
    run_one "$mode" "$seed" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n
      running=$((running - 1))
    fi
  done
done
wait

summarize "$out"
