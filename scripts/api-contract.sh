#!/usr/bin/env bash
# Checks the JSON API against its own OpenAPI document with schemathesis (every check,
# API_CONTRACT_EXAMPLES generated cases per operation, default 100, plus the stateful
# phase that follows the document's links): serves DATA_DIR on a free loopback port,
# runs the check, stops the server. Exits non-zero on any failure.
#
#   scripts/api-contract.sh DATA_DIR
#
# schemathesis (pinned) is installed once into a virtual environment under the cache
# folder ($CHORUS_CACHE_DIR, else ~/.cache/chorus). The chorus binary is
# $CHORUS_BIN, else the release build in $CARGO_TARGET_DIR (else ./target). The rate
# limits are raised for the run (a test client is one address); a 429 is documented
# and would be accepted, but would hide the operations behind it.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${1:?usage: scripts/api-contract.sh DATA_DIR}"
examples="${API_CONTRACT_EXAMPLES:-100}"
version=4.32.5
venv="${CHORUS_CACHE_DIR:-$HOME/.cache/chorus}/schemathesis-$version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis $version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi
chorus="${CHORUS_BIN:-${CARGO_TARGET_DIR:-target}/release/chorus}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
log="$(mktemp)"
"$chorus" serve --data-dir "$data_dir" --listen "127.0.0.1:$port" \
  --report-limit 1000000 --search-limit 1000000 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('$base/api/openapi.json', timeout=2)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "chorus serve exited:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done
echo "== schemathesis: every check, $examples examples per operation, against $base" >&2
"$venv/bin/schemathesis" run "$base/api/openapi.json" \
  --checks all --max-examples "$examples" --seed "${API_CONTRACT_SEED:-1}" \
  --no-color --suppress-health-check all --generation-database none
