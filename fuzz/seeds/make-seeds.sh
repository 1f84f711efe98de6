#!/usr/bin/env bash
# Writes the curated seed corpus under fuzz/seeds/TARGET/ from the cases listed in
# src/fuzzing/seeds/ (`fuzzing::seeds`): each roundtrip and roundtrip_lifecycle seed is a meaningful
# case encoded into the bytes the target decodes back to it; raw_stream seeds are short messages;
# scenario_parse seeds are printed scenarios and a few broken ones.
#
# Run it after changing the seed cases or the decoders; a unit test fails while the committed
# seeds differ from what the code makes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ECHO_HARNESS_SEEDS_DIR="$PWD/fuzz/seeds" cargo test --quiet --lib \
  fuzzing::tests::write_seed_corpus -- --ignored --exact
ls -l fuzz/seeds/*/
