#!/usr/bin/env bash
# The demo: a security incident played on the local AWS emulator through the real function
# binaries, served by a local Lambda runtime (cargo lambda watch). Sets everything up on a
# fresh clone; stops every process it started, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

WATCH_PID=
cleanup() {
  if [ -n "$WATCH_PID" ]; then
    kill -- "-$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
  fi
  stop_emulator
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_venv
ensure_demo_tools
use_sccache
export PATH="$PWD/$VENV/bin:$PATH"

say "building the functions (the first build compiles the AWS SDK: several minutes)"
cargo build --bins

start_emulator
port=$(free_port)
env_file="$STATE/demo.env"
cat > "$env_file" <<ENV
HISTORY_TABLE=tourniquet-history
ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:tourniquet-alerts
ISOLATION_LIMIT=3
ISOLATION_WINDOW_MINUTES=60
OFFENSE_LIMIT=1
DISABLE_LIMIT=2
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_REGION=$AWS_REGION
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
ENV
say "starting the local Lambda runtime (cargo lambda watch) on 127.0.0.1:$port"
setsid cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-file "$env_file" >"$STATE/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 150); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  if ! kill -0 "$WATCH_PID" 2>/dev/null; then
    cat "$STATE/watch.log" >&2
    echo "error: cargo lambda watch exited (log above)" >&2
    exit 1
  fi
  sleep 0.2
done

export TOURNIQUET_INVOKE_URL="http://127.0.0.1:$port"
"$VENV/bin/python" scripts/demo.py
