#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer. When DATABASE_URL / REDIS_URL are unset and nothing
# answers at the defaults, start private instances under .run/ from the installed binaries.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run="$root/.run"
mkdir -p "$run"

as_service_user() {
    # PostgreSQL refuses to run as root.
    if [[ $EUID -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

if [[ -z "${DATABASE_URL:-}" ]]; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
        mkdir -p "$run/pg"
        [[ $EUID -eq 0 ]] && chown nobody "$run/pg"
        if [[ ! -f "$run/pg/data/PG_VERSION" ]]; then
            echo "services: creating a private PostgreSQL cluster in .run/pg"
            as_service_user "$pgbin/initdb" -D "$run/pg/data" -U "$(id -un)" --auth=trust -E UTF8 >/dev/null
        fi
        echo "services: starting private PostgreSQL on 127.0.0.1:5432"
        as_service_user "$pgbin/pg_ctl" -D "$run/pg/data" -l "$run/pg/postgres.log" -w \
            -o "-h 127.0.0.1 -p 5432 -k $run/pg" start >/dev/null
    fi
    if ! psql -h 127.0.0.1 -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'fanfare'" | grep -q 1; then
        createdb -h 127.0.0.1 fanfare
    fi
fi

if [[ -z "${REDIS_URL:-}" ]]; then
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "services: starting private Redis on 127.0.0.1:6379"
        mkdir -p "$run/redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$run/redis" \
            --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
            --pidfile "$run/redis/redis.pid" --logfile "$run/redis/redis.log"
        for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
fi
