#!/usr/bin/env bash
# Install the system binaries fanfare runs against, with apt when root; otherwise say what to install.
set -euo pipefail
missing=()
command -v pg_isready >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)  # make fleet: failover
command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]] || missing+=(pgbouncer)  # make fleet
command -v varnishd >/dev/null || missing+=(varnish)
compgen -G "/usr/lib/*/varnish/vmods/libvmod_xkey.so" >/dev/null \
    || compgen -G "/usr/lib/varnish/vmods/libvmod_xkey.so" >/dev/null || missing+=(varnish-modules)
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
command -v npm >/dev/null || missing+=(npm)
command -v promtool >/dev/null || missing+=(prometheus)  # promtool checks ops/alerts.yml
((${#missing[@]})) || exit 0
if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "system-deps: installing ${missing[*]}"
    # Debian would start the packaged services (PostgreSQL with password auth on 5432, a
    # Prometheus on 9090, a Sentinel on 26379, PgBouncer on 6432); fanfare starts its own
    # instances instead, with generated configs on free ports, so keep them stopped.
    policy=/usr/sbin/policy-rc.d
    [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Only promtool is wanted from `prometheus`, and only the binaries from redis-sentinel and
    # pgbouncer (make fleet runs its own): keep their services from starting at the next boot.
    if command -v systemctl >/dev/null; then
        for service in prometheus redis-sentinel pgbouncer; do
            [[ " ${missing[*]} " == *" $service "* ]] && { systemctl disable "$service" >/dev/null 2>&1 || true; }
        done
    fi
    exit 0
fi
echo "system-deps: please install: ${missing[*]}  (e.g. sudo apt-get install ${missing[*]})" >&2
exit 1
