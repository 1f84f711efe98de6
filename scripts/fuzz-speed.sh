#!/usr/bin/env bash
# Fuzzing speed (libFuzzer exec/s) of already-built fuzz targets, for A/B comparisons: build the
# targets in two trees (say a worktree of the old commit and this one) with
# `cargo +nightly fuzz build -O`, then
#
#   scripts/fuzz-speed.sh --tree /work/before --tree . roundtrip raw_stream
#
# Each run starts every binary from a fresh empty corpus plus the committed seeds, with the
# options of scripts/fuzz-ci.sh, and the trees take turns within a run (A B A B ...) so that the
# drift of a shared machine hits both alike. Nothing is built: the binaries run as they are.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fuzz-speed.sh [--seconds N] [--runs K] [--tree DIR]... TARGET...

Measures the fuzzing speed (exec/s) of fuzz TARGETs (roundtrip, roundtrip_lifecycle, raw_stream,
scenario_parse, proxy_roundtrip) already built in each tree DIR. For each run k in 1..K, for each
TARGET, for each DIR in the order given, it runs
  DIR/fuzz/target/x86_64-unknown-linux-gnu/release/TARGET
directly (no cargo, no rebuild) on a fresh empty corpus plus DIR/fuzz/seeds/TARGET with
  -max_total_time=N -max_len=4096 -print_final_stats=1 [-dict=DIR/fuzz/dict/TARGET.dict]
and prints one line `TARGET DIR run=k exec/s=X` (X from libFuzzer's stat::average_exec_per_sec).
At the end it prints, per target and tree, the median, min and max exec/s, and with two or more
trees the ratio of each tree's median to the first tree's (with two: second/first).

Options:
  --seconds N   fuzzing time of each run (default 60)
  --runs K      runs per target and tree (default 3; use an odd number, 5 or more for a ratio
                worth quoting: the machine is shared and speeds drift between runs)
  --tree DIR    a source tree with built fuzz targets; repeat for A/B (default: this repository)
  -h, --help    this text

Build the binaries first with `cargo +nightly fuzz build -O` in each tree (as scripts/fuzz-ci.sh
does). Exits 2 on a usage error or a missing binary, 1 if a run crashed or printed no stats (its
log is kept and named), 0 otherwise.
EOF
}

die() {
  echo "fuzz-speed.sh: $*" >&2
  exit 2
}

positive_int() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive whole number, not '$2' (see --help)"
}

seconds=60
runs=3
trees=()
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --seconds | --runs | --tree)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)"
      case $1 in
        --seconds) seconds=$2 ;;
        --runs) runs=$2 ;;
        --tree) trees+=("$2") ;;
      esac
      shift 2
      ;;
    --seconds=*) seconds=${1#*=} && shift ;;
    --runs=*) runs=${1#*=} && shift ;;
    --tree=*) trees+=("${1#*=}") && shift ;;
    --)
      shift
      targets+=("$@")
      break
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      targets+=("$1")
      shift
      ;;
  esac
done
positive_int --seconds "$seconds"
positive_int --runs "$runs"
if [ ${#targets[@]} -eq 0 ]; then
  usage >&2
  exit 2
fi
if [ ${#trees[@]} -eq 0 ]; then
  trees=("$(dirname "$0")/..")
fi

# Absolute paths: the runs happen in a temporary directory.
for i in "${!trees[@]}"; do
  [ -d "${trees[$i]}" ] || die "--tree ${trees[$i]}: no such directory"
  trees[i]=$(cd "${trees[$i]}" && pwd -P)
done

bin_path() { # TREE TARGET
  echo "$1/fuzz/target/x86_64-unknown-linux-gnu/release/$2"
}

missing=0
for tree in "${trees[@]}"; do
  for target in "${targets[@]}"; do
    if [ ! -x "$(bin_path "$tree" "$target")" ]; then
      echo "fuzz-speed.sh: missing $(bin_path "$tree" "$target")" >&2
      echo "  build it with \`cargo +nightly fuzz build -O\` in $tree" >&2
      missing=1
    fi
  done
done
[ "$missing" -eq 0 ] || exit 2

work=$(mktemp -d)
kept_logs=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  rmdir "$kept_logs" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fuzz-speed: ${#targets[@]} target(s) x ${#trees[@]} tree(s) x $runs run(s) of ${seconds}s," \
  "about $((${#targets[@]} * ${#trees[@]} * runs * seconds))s"

# results[TARGET|tree index] = the exec/s of its good runs, space-separated.
declare -A results=()
failed=0
for ((k = 1; k <= runs; k++)); do
  for target in "${targets[@]}"; do
    for i in "${!trees[@]}"; do
      tree=${trees[$i]}
      run_dir=$work/run
      mkdir -p "$run_dir/corpus" "$run_dir/artifacts"
      seeds=()
      if [ -d "$tree/fuzz/seeds/$target" ]; then
        seeds=("$tree/fuzz/seeds/$target")
      fi
      dict=()
      if [ -f "$tree/fuzz/dict/$target.dict" ]; then
        dict=("-dict=$tree/fuzz/dict/$target.dict")
      fi
      log=$run_dir/log
      status=0
      (cd "$run_dir" && "$(bin_path "$tree" "$target")" \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$run_dir/artifacts/" "${dict[@]}" \
        "$run_dir/corpus" "${seeds[@]}") >"$log" 2>&1 || status=$?
      rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1)
      if [ "$status" -eq 0 ] && [ -n "$rate" ]; then
        echo "$target $tree run=$k exec/s=$rate"
        results["$target|$i"]+="$rate "
      else
        kept=$kept_logs/$target-$i-run$k.log
        mv "$log" "$kept"
        echo "$target $tree run=$k exec/s=${rate:-none} FAILED (exit $status), log kept: $kept"
        failed=1
      fi
      rm -rf "$run_dir"
    done
  done
done

# median min max of the numbers on stdin, one per line ("- - -" if none).
stats() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "- - -"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      print m, v[1], v[NR]
    }'
}

echo
echo "fuzz-speed: summary (exec/s, ${seconds}s per run)"
for target in "${targets[@]}"; do
  first_median=""
  for i in "${!trees[@]}"; do
    read -r median min max < <(tr ' ' '\n' <<<"${results["$target|$i"]:-}" | grep . | stats)
    n=$(wc -w <<<"${results["$target|$i"]:-}")
    echo "$target ${trees[$i]} median=$median min=$min max=$max runs=$n"
    if [ "$i" -eq 0 ]; then
      first_median=$median
    elif [ "$median" != - ] && [ "$first_median" != - ] && [ "$first_median" != 0 ]; then
      ratio=$(awk -v a="$first_median" -v b="$median" 'BEGIN { printf "%.3f", b / a }')
      echo "$target ratio=$ratio (median of ${trees[$i]} / median of ${trees[0]})"
    fi
  done
done

if [ "$failed" -ne 0 ]; then
  echo "fuzz-speed: some runs FAILED (see above); their statistics leave them out" >&2
  exit 1
fi
