#!/usr/bin/env bash
# Run a command with a real Chroma server on 127.0.0.1 (a free port, a throw-away folder) and
# NEWSBOT_TEST_CHROMA=host:port exported, so the server-mode tests run against it; stop it afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
chroma="$here/.venv/bin/chroma"
dir="$(mktemp -d)"
port="$("$here/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$chroma" run --path "$dir/chroma" --host 127.0.0.1 --port "$port" >"$dir/chroma.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 60); do
  if "$here/.venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/v2/heartbeat', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "chroma server failed to start:" >&2; cat "$dir/chroma.log" >&2; exit 1; fi
  sleep 1
done
export NEWSBOT_TEST_CHROMA="127.0.0.1:$port"
"$@"
