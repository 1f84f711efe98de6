#!/usr/bin/env bash
# A fuzzing campaign on one target: libFuzzer's fork mode for --time seconds on --jobs processes,
# then `cargo fuzz cmin` to minimize the corpus, then every crash turned into a scenario file.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fuzz.sh TARGET [--time SECONDS] [--jobs N] [--fault-injection]
                       [--target ADDR | --spawn CMD]

Runs a fuzzing campaign on TARGET (roundtrip, roundtrip_lifecycle, raw_stream, scenario_parse,
proxy_roundtrip):
  1. libFuzzer's fork mode for SECONDS (default 300) on N jobs (default: the number of cores),
     from fuzz/corpus/TARGET plus the seeds in fuzz/seeds/TARGET, going on after crashes;
  2. `cargo fuzz cmin` on fuzz/corpus/TARGET;
  3. triage: every crash file in fuzz/artifacts/TARGET becomes a scenario file in
     fuzz/artifacts/TARGET/triage/ (`echo-harness replay --artifact TARGET --print FILE`), and
     is replayed once on a fresh connection to say whether it reproduces.

Options:
  --time SECONDS     how long the campaign runs (default 300)
  --jobs N           fuzzing processes (default: nproc)
  --fault-injection  build the server with its planted bug (feature fault-injection), to check
                     that the target finds it
  --target ADDR      fuzz the server listening at ADDR instead of the built-in one (sets
                     ECHO_HARNESS_TARGET; roundtrip, roundtrip_lifecycle, raw_stream,
                     proxy_roundtrip); triage replays against it too
  --spawn CMD        start CMD once per fuzzing process and fuzz it (sets ECHO_HARNESS_SPAWN;
                     `{addr}` or `{port}` as in `echo-harness check --spawn`); killed with the
                     process; triage replays against a fresh one
  -h, --help         this text

Uses `cargo +nightly fuzz` when a nightly toolchain is installed, else
`RUSTC_BOOTSTRAP=1 cargo +stable fuzz`. Exits 1 if the campaign found crashes, 0 otherwise.
EOF
}

die() {
  echo "fuzz.sh: $*" >&2
  exit 2
}

target=""
time_budget=300
jobs=$(nproc 2>/dev/null || echo 2)
features=()
fault_note=""
# The server under fuzzing, for the targets (through the environment) and for triage (flags).
server_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --time)
      [ $# -ge 2 ] || die "--time needs a number of seconds"
      time_budget=$2
      shift 2
      ;;
    --jobs)
      [ $# -ge 2 ] || die "--jobs needs a number"
      jobs=$2
      shift 2
      ;;
    --fault-injection)
      features=(--features fault-injection)
      fault_note=" (fault injection on)"
      shift
      ;;
    --target)
      [ $# -ge 2 ] || die "--target needs an address such as 127.0.0.1:7000"
      [ ${#server_flags[@]} -eq 0 ] || die "--target and --spawn: one server at a time"
      export ECHO_HARNESS_TARGET=$2
      server_flags=(--target "$2")
      fault_note="$fault_note against $2"
      shift 2
      ;;
    --spawn)
      [ $# -ge 2 ] || die "--spawn needs a command such as './server {addr}'"
      [ ${#server_flags[@]} -eq 0 ] || die "--target and --spawn: one server at a time"
      export ECHO_HARNESS_SPAWN=$2
      server_flags=(--spawn "$2")
      fault_note="$fault_note against \`$2\`"
      shift 2
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [ -z "$target" ] || die "one target at a time (got $target and $1)"
      target=$1
      shift
      ;;
  esac
done
[ -n "$target" ] || {
  usage >&2
  exit 2
}
case "$target" in
  roundtrip | roundtrip_lifecycle | raw_stream | scenario_parse | proxy_roundtrip) ;;
  *) die "unknown target $target: the targets are roundtrip, roundtrip_lifecycle, raw_stream, scenario_parse, proxy_roundtrip" ;;
esac
[[ "$time_budget" =~ ^[0-9]+$ ]] || die "--time takes whole seconds, not $time_budget"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs takes a positive number, not $jobs"

cd "$(dirname "$0")/.."

command -v cargo-fuzz >/dev/null 2>&1 || die "cargo-fuzz is not installed: cargo install cargo-fuzz --locked"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  echo "fuzz.sh: toolchain: nightly ($(rustc +nightly --version))"
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo +stable fuzz)
  echo "fuzz.sh: toolchain: stable with RUSTC_BOOTSTRAP=1 ($(rustc +stable --version))"
fi

corpus=fuzz/corpus/$target
artifacts=fuzz/artifacts/$target
triage=$artifacts/triage
mkdir -p "$corpus" "$artifacts" "$triage"
dict=()
if [ -f "fuzz/dict/$target.dict" ]; then
  dict=("-dict=fuzz/dict/$target.dict")
fi

echo "fuzz.sh: $target for ${time_budget}s on $jobs jobs$fault_note"
# Fork mode goes on after a crash (-ignore_crashes) so that one campaign collects them all; its
# exit status says little, so the crash files are counted afterwards.
"${fuzz[@]}" run "$target" -O "${features[@]}" "$corpus" "fuzz/seeds/$target" -- \
  -fork="$jobs" -ignore_crashes=1 -max_total_time="$time_budget" -max_len=4096 \
  "${dict[@]}" || true

echo "fuzz.sh: minimizing $corpus"
before=$(find "$corpus" -type f | wc -l)
"${fuzz[@]}" cmin "$target" -O "${features[@]}" "$corpus" -- -max_len=4096
echo "fuzz.sh: corpus: $before inputs before, $(find "$corpus" -type f | wc -l) after"

shopt -s nullglob
crashes=("$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/oom-*)
if [ ${#crashes[@]} -eq 0 ]; then
  echo "fuzz.sh: no crashes"
  exit 0
fi
echo "fuzz.sh: ${#crashes[@]} crash files; triage in $triage"

cli=(cargo run --quiet --release "${features[@]}" --)
if ! "${cli[@]}" replay --help 2>/dev/null | grep -q -- '--artifact'; then
  echo "fuzz.sh: SKIPPED triage: this echo-harness has no \`replay --artifact\` yet; the crash files are in $artifacts" >&2
  exit 1
fi
for crash in "${crashes[@]}"; do
  name=$(basename "$crash")
  if [ "$target" = scenario_parse ]; then
    # Its artifacts are scenario text already.
    cp "$crash" "$triage/$name.scenario"
  elif ! "${cli[@]}" replay --artifact "$target" --print "$crash" >"$triage/$name.scenario"; then
    echo "fuzz.sh: $name: could not be printed as a scenario" >&2
    continue
  fi
  if "${cli[@]}" replay --artifact "$target" "$crash" "${server_flags[@]}" >"$triage/$name.replay.txt" 2>&1; then
    verdict="does NOT reproduce on a fresh connection"
  else
    verdict="reproduces"
  fi
  echo "fuzz.sh: $triage/$name.scenario: $verdict"
done
exit 1
