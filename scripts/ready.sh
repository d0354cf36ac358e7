#!/usr/bin/env bash
# Wait for the edge to answer through to web and ingest, print where to look, then idle
# (honcho stops everything when any process exits).
set -u
edge="http://127.0.0.1:$FANFARE_EDGE_PORT"
for _ in $(seq 120); do
    if curl -sf -o /dev/null "$edge/" && curl -sf -o /dev/null "http://127.0.0.1:$FANFARE_INGEST_PORT/healthz"; then
        echo "fanfare is up:"
        echo "  fans     $edge/"
        echo "  editors  $edge/admin/   (fanfare create-editor you@example.org)"
        echo "  ops      $edge/admin/ops   live queue, votes, edge and errors"
        echo "  metrics  web      http://127.0.0.1:$FANFARE_WEB_PORT/metrics"
        echo "           ingest   http://127.0.0.1:$FANFARE_INGEST_PORT/metrics"
        echo "           writer   http://127.0.0.1:$FANFARE_WRITER_METRICS_PORT/metrics"
        echo "           exporter http://127.0.0.1:$FANFARE_EXPORTER_PORT/metrics   queue, edge, Redis, PostgreSQL"
        echo "  alerts   ops/alerts.yml (Prometheus config: ops/prometheus.yml)"
        echo "Press Ctrl-C to stop everything."
        exec tail -f /dev/null
    fi
    sleep 0.5
done
echo "fanfare did not become ready in 60 s; see the log lines above" >&2
exec tail -f /dev/null
