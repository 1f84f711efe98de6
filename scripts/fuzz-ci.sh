#!/usr/bin/env bash
# The fuzzing stage of CI (.ci/run calls it): builds every fuzz target in one `cargo fuzz build
# -O`, runs each from its seeds for FUZZ_SECONDS (default 10) with -max_total_time, fails on any
# crash, then runs `roundtrip` against a spawned server (ECHO_HARNESS_SPAWN) and the target of
# examples/my-server/fuzz the same way; a short scripts/fuzz.sh campaign checks the campaign
# script. Prints the toolchain, and `SKIPPED: <reason>` when fuzzing cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  echo "Usage: scripts/fuzz-ci.sh   (FUZZ_SECONDS=N to change the time per target)"
  exit 0
fi

seconds=${FUZZ_SECONDS:-10}
targets=(roundtrip roundtrip_lifecycle raw_stream scenario_parse proxy_roundtrip)

skip() {
  echo "SKIPPED: $*"
  exit 0
}

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  skip "fuzzing runs on x86_64 Linux only (cargo-fuzz with AddressSanitizer)"
fi
if ! command -v c++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
  skip "no C++ compiler to build libFuzzer with"
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-ci: installing cargo-fuzz"
  cargo install cargo-fuzz --locked >/dev/null 2>&1 || skip "cargo-fuzz is missing and could not be installed"
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  echo "fuzz-ci: toolchain: nightly ($(rustc +nightly --version))"
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo +stable fuzz)
  echo "fuzz-ci: toolchain: stable with RUSTC_BOOTSTRAP=1 ($(rustc +stable --version)), no nightly installed"
fi

start=$(date +%s)
"${fuzz[@]}" build -O
echo "fuzz-ci: built ${#targets[@]} targets in $(($(date +%s) - start))s"

failed=()
# Runs fuzz target $2 of the fuzz crate in folder $1 for $seconds from the seeds in $3 and an
# empty corpus; $4 is the target whose decoder reads its crash files (for the replay hint); the
# rest are more options of `cargo fuzz run`.
fuzz_one() {
  local dir=$1 target=$2 seeds=$3 reads_as=$4
  shift 4
  local corpus artifacts log
  corpus=$(mktemp -d)
  artifacts=$(mktemp -d)
  local dict=()
  if [ -f "$dir/dict/$target.dict" ]; then
    dict=("-dict=$dir/dict/$target.dict")
  fi
  log=$artifacts/log
  if "${fuzz[@]}" run --fuzz-dir "$dir" "$@" "$target" -O "$corpus" "$seeds" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" >"$log" 2>&1; then
    echo "fuzz-ci: $target: $(grep -a 'stat::average_exec_per_sec' "$log" | awk '{print $2}') exec/s, no crash"
  else
    echo "fuzz-ci: $target CRASHED; its report:"
    grep -a -A 40 -E 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | head -80
    for crash in "$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
      [ -e "$crash" ] || continue
      echo "fuzz-ci: crash file (base64, decode and replay with echo-harness replay --artifact $reads_as FILE):"
      base64 -w 0 "$crash"
      echo
    done
    failed+=("$target")
  fi
  rm -rf "$corpus" "$artifacts"
}

for target in "${targets[@]}"; do
  fuzz_one fuzz "$target" "fuzz/seeds/$target" "$target"
done

# Out of process: the `roundtrip` target against a server it starts itself (ECHO_HARNESS_SPAWN),
# here the echo-harness binary's own `serve` (idle timeout off: the target's connection idles
# between inputs), as a user fuzzes a server of any language.
cargo build --quiet --bin echo-harness
echo "fuzz-ci: next, roundtrip against a spawned \`echo-harness serve\` (ECHO_HARNESS_SPAWN):"
ECHO_HARNESS_SPAWN="$PWD/target/debug/echo-harness serve --listen {addr} --idle-timeout off" \
  fuzz_one fuzz roundtrip fuzz/seeds/roundtrip roundtrip
# The example crate's target (examples/my-server/fuzz, a workspace of its own): a user's server
# through the public Harness API. It plays the `roundtrip` body, so it starts from those seeds.
# Built into fuzz/target, where every dependency that does not depend on tokio is built already
# (its lock file has the same versions): about 1 minute instead of 4 from nothing.
example=(--fuzz-dir examples/my-server/fuzz --target-dir "$PWD/fuzz/target")
example_start=$(date +%s)
"${fuzz[@]}" build "${example[@]}" -O
echo "fuzz-ci: built examples/my-server's target in $(($(date +%s) - example_start))s"
fuzz_one examples/my-server/fuzz my_server fuzz/seeds/roundtrip roundtrip --target-dir "$PWD/fuzz/target"

# The campaign script end to end, on a tiny budget: fork mode, cmin, triage.
campaign_log=$(mktemp)
if scripts/fuzz.sh raw_stream --time 3 --jobs 1 >"$campaign_log" 2>&1; then
  echo "fuzz-ci: scripts/fuzz.sh raw_stream --time 3: ran, $(grep -a 'corpus:' "$campaign_log" | tail -1 | sed 's/^fuzz.sh: //')"
else
  echo "fuzz-ci: scripts/fuzz.sh raw_stream --time 3 failed:"
  tail -30 "$campaign_log"
  failed+=("fuzz.sh")
fi
rm -f "$campaign_log"

echo "fuzz-ci: took $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-ci: FAILED: ${failed[*]}"
  exit 1
fi
