#!/bin/bash -eu
# Builds every fuzz target for ClusterFuzzLite / OSS-Fuzz and puts each, with its seed corpus,
# dictionary and options, in $OUT. The base image's cargo adds the sanitizer flags; locally, check
# it with:  RUSTUP_TOOLCHAIN=nightly SRC=$PWD/.. OUT=/tmp/out bash .clusterfuzzlite/build.sh
cd "$SRC/echo-harness"
cargo fuzz build -O
release=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$release/$target" "$OUT/"
  if [ -d "fuzz/seeds/$target" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    (cd "fuzz/seeds/$target" && zip -q -j "$OUT/${target}_seed_corpus.zip" ./*)
  fi
  if [ -f "fuzz/dict/$target.dict" ]; then
    cp "fuzz/dict/$target.dict" "$OUT/$target.dict"
  fi
  # The exec/s figures in fuzz/README.md are measured at this length.
  printf '[libfuzzer]\nmax_len = 4096\n' > "$OUT/$target.options"
done
