#!/usr/bin/env bash
# Benchmarks: builds the release bootstraps as Lambda runs them (sam build, x86_64, stripped),
# starts the local AWS emulator, measures, and writes bench/results.{json,md} and the README's
# performance section. Figures, not tests: slow machines do not fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_emulator EXIT
trap 'exit 130' INT TERM

ensure_venv
use_sccache

say "building the release bootstraps with sam build (x86_64; the first build takes long)"
sam_build_x86_64

# Cloud Custodian, for the cold-start comparison: the same machine, the same run.
ensure_tool_venv .venv-c7n scripts/c7n-requirements.txt
export TOURNIQUET_C7N_PYTHON="$PWD/.venv-c7n/bin/python"

start_emulator
"$VENV/bin/python" scripts/bench.py

# The README's performance section is the generated table, between its markers.
"$VENV/bin/python" - <<'PY'
import pathlib, re
readme = pathlib.Path("README.md")
table = pathlib.Path("bench/results.md").read_text()
text = readme.read_text()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
text = re.sub(re.escape(begin) + ".*?" + re.escape(end), begin + "\n" + table + end, text, flags=re.S)
readme.write_text(text)
PY
say "results in bench/results.json and bench/results.md; README updated"
