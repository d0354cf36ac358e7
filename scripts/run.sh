#!/usr/bin/env bash
# make run: services, migrations, demo seed, then every process under honcho.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/services.sh
export PATH="$root/.venv/bin:$PATH"
export FANFARE_EDGE_PORT="${FANFARE_EDGE_PORT:-8000}"
export FANFARE_WEB_PORT="${FANFARE_WEB_PORT:-8001}"
export FANFARE_INGEST_PORT="${FANFARE_INGEST_PORT:-8002}"
export FANFARE_RUN_DIR="${FANFARE_RUN_DIR:-$root/.run}"
export FANFARE_EDGE_URLS="${FANFARE_EDGE_URLS:-http://127.0.0.1:$FANFARE_EDGE_PORT}"
fanfare migrate
fanfare seed-demo
exec honcho start -f Procfile
