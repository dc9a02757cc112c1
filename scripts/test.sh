#!/usr/bin/env bash
# Every check the project has, from a fresh clone: format, lints, unit tests, integration
# tests against the local AWS emulator. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_emulator EXIT
trap 'exit 130' INT TERM

ensure_venv
use_sccache

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
say "building the tests"
cargo test --workspace --no-run
start_emulator
say "cargo test (unit and emulator-backed integration tests)"
cargo test --workspace
