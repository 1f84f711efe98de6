#!/usr/bin/env bash
# Runs .ci/run the way CI does: in a fresh clone of the committed HEAD, with CI=true and no
# standard input, so a step that only works in this working tree fails here first.
#
# Usage: scripts/ci-clean-clone.sh [--keep]
#   --keep   leave the clone in place (its path is printed) instead of deleting it
set -euo pipefail

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  -h|--help)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "ci-clean-clone.sh: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
esac

top=$(git rev-parse --show-toplevel)
clone=$(mktemp -d "${TMPDIR:-/tmp}/echo-harness-ci.XXXXXX")
cleanup() { if [ "$keep" -eq 0 ]; then rm -rf "$clone"; else echo "clone kept at $clone"; fi; }
trap cleanup EXIT

git clone --quiet "$top" "$clone/repo"
cd "$clone/repo"
CI=true bash .ci/run </dev/null
