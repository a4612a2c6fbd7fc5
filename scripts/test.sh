#!/usr/bin/env bash
# Every test: installs what the tests need when it is missing, then formatting, lints and the
# whole test suite (unit tests, and integration tests against real registries on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build (the integration tests run the real mirrorctl and mirror-fixture)" >&2
cargo build --workspace --bins
echo "== cargo test" >&2
cargo test --workspace
