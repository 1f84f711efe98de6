#!/usr/bin/env bash
# Mutation testing of the core (issue 10): the one player (src/roundtrip/player.rs, lane.rs,
# writer.rs), the step model (src/script/) and the scenario parser (src/scenario/parse*), with
# cargo-mutants. The test command is scoped to the tests that exercise them, so that a run fits
# in about an hour on 2 cores: the library's unit tests but those of the server, spawn, proxy,
# bench, fuzzing, generator and client modules, and tests/it/roundtrip.rs. Installs cargo-mutants
# when it is missing.
#
# Usage: scripts/mutants.sh [--list] [FILE...]
#   --list   list the mutants and exit (no build, no tests)
#   FILE...  mutate only these files (default: the core files above)
# Results land in mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
# Exit code: cargo-mutants' own (0 all caught, 2 some missed, 3 some timed out, 1 usage error).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

list=()
if [ "${1:-}" = "--list" ]; then
  list=(--list)
  shift
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(
    src/roundtrip/player.rs
    src/roundtrip/lane.rs
    src/roundtrip/writer.rs
    src/script/mod.rs
    src/script/rules.rs
    src/script/from_case.rs
    src/scenario/parse.rs
    src/scenario/parse/lines.rs
  )
fi

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "mutants: installing cargo-mutants"
  cargo install cargo-mutants --locked
fi

file_args=()
for f in "${files[@]}"; do
  file_args+=(--file "$f")
done

# The library's unit tests but the slow modules that do not touch the core, and the player's
# integration tests (the `roundtrip` module of the `it` test binary). libtest's `--skip` matches
# any part of a test's name, so the first line skips those library modules and also the `it`
# modules `server`, `proxy`, `broken_proxy` and `client`; the next lines skip the other `it`
# modules. The `it` module `cli` is skipped by its tests' name prefixes: `--skip cli::` would
# also skip the library's own `cli::` unit tests.
exec cargo mutants "${list[@]}" --no-shuffle --timeout 120 "${file_args[@]}" -- \
  --lib --test it -- \
  --skip server:: --skip spawn:: --skip proxy:: --skip bench:: --skip fuzzing:: \
  --skip generator:: --skip client:: \
  --skip bench_cli:: --skip check_api:: --skip check_cli:: --skip check_through:: \
  --skip interop:: --skip properties:: --skip proxy_cli:: --skip readme:: \
  --skip regressions:: --skip scenario_cli:: \
  --skip cli::address_ --skip cli::bad_ --skip cli::client_ --skip cli::help_ --skip cli::serve_
