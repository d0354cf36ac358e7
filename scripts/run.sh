#!/usr/bin/env bash
# make run: services, migrations, demo seed, then every process under honcho.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/services.sh
export PATH="$root/.venv/bin:$PATH"
# Ports, run dir and edge settings from the one settings module (environment first).
eval "$(python -m fanfare.settings EDGE_PORT WEB_PORT INGEST_PORT RUN_DIR EDGE_URLS EDGE_MEMORY \
    WRITER_METRICS_PORT EXPORTER_PORT SITE_HOSTS)"
fanfare migrate
fanfare seed-demo
# The `mail` process is a local SMTP sink: each fan sign-in link is printed in this console.
echo "fan sign-in links appear below as 'mail | sign-in mail for ...'"
exec honcho start -f Procfile
