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
say "code shape: files and functions short, no import circle, no function crate depending on another"
"$VENV/bin/python" scripts/shape.py --allow scripts/shape-allowed.txt shared/src trail/src operator/src functions/*/src
for crate in functions/*/; do
    name=$(basename "$crate")
    others=$(ls functions | grep -vx "$name" | paste -sd'|' -)
    if cargo tree -p "$name" -e normal --prefix none | awk '{print $1}' | grep -xE "$others"; then
        echo "$name depends on another function crate (above): share it through the framework or trail/" >&2
        exit 1
    fi
done
say "host hook: shellcheck"
ensure_tool_venv .venv-host tests/host/requirements.txt
.venv-host/bin/shellcheck host/tourniquet-taint host/install.sh
# The hook's tests run it with this AWS CLI.
export TOURNIQUET_HOST_TOOLS="$PWD/.venv-host/bin"
say "building the tests"
cargo test --workspace --no-run
start_emulator
say "cargo test (unit and emulator-backed integration tests)"
# Test threads get 4 MiB of stack, half of what the functions' main thread has in Lambda:
# a debug build's futures are several times a release build's, and the emulator suites run
# a whole pipeline on each test thread. The release binaries are measured by make bench.
RUST_MIN_STACK=4194304 cargo test --workspace

say "templates (central and member): cfn-lint, sam validate --lint, checkov"
ensure_tool_venv .venv-sam tests/template/sam-requirements.txt
ensure_tool_venv .venv-checkov tests/template/checkov-requirements.txt
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
.venv-sam/bin/cfn-lint template.yaml member.yaml
.venv-sam/bin/sam validate --lint --template template.yaml
.venv-checkov/bin/checkov -f template.yaml -f member.yaml --framework cloudformation --skip-download --compact --quiet
# checkov exits 0 with failures under --soft-fail only; without it, a failed check fails here.
say "forged events: a copy of every sample under a custom source matches no rule"
"$VENV/bin/python" tests/template/forged_events.py template.yaml member.yaml

say "sam build (x86_64; arm64 too where its Rust target is installed)"
sam_build_x86_64
if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  PATH="$PWD/.venv-sam/bin:$PATH" .venv-sam/bin/sam build --build-in-source \
    --parameter-overrides Architecture=arm64 --build-dir .aws-sam/build-arm64
else
  say "arm64 Rust target not installed: arm64 build skipped (x86_64 built and checked)"
fi
say "all checks passed"
