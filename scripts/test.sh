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
echo "== cargo doc" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# The integration tests are mirror-cli's tests, so `cargo test` itself builds the mirrorctl
# they run from this tree (see mirror-cli/Cargo.toml).
echo "== cargo test" >&2
cargo test --workspace
