#!/usr/bin/env bash
# Start a local PostgreSQL cluster for the storage tests and print its SQLAlchemy URL on stdout.
#
# For CI (Debian 12, run as root) and developers' machines: installs nothing (the `postgresql`
# package must already be there), is idempotent (safe to run again: it starts what is stopped and
# creates what is missing), logs to stderr so that this works:
#   export CARTO_TEST_POSTGRES_URL="$(bash scripts/start-postgres.sh)"
set -euo pipefail

ROLE="${CARTO_PG_ROLE:-carto}"
PASSWORD="${CARTO_PG_PASSWORD:-carto}"
DATABASE="${CARTO_PG_DATABASE:-carto_test}"
CLUSTER="${CARTO_PG_CLUSTER:-main}"

log() { printf 'start-postgres: %s\n' "$*" >&2; }
die() { log "ERREUR : $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "à lancer en root (pg_ctlcluster et runuser en ont besoin)."
command -v pg_lsclusters >/dev/null || die "paquet postgresql absent (apt-get install postgresql)."

as_postgres() { runuser -u postgres -- "$@"; }

# Newest installed server version, from the binaries the package put under /usr/lib/postgresql.
newest_installed_version() {
    local dir
    for dir in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$dir" ] && basename "$(dirname "$(dirname "$dir")")"
    done | sort -n | tail -n 1
}

# Use an existing cluster if there is one (prefer "main" of the newest version), else create one.
cluster_line="$(pg_lsclusters --no-header 2>/dev/null | awk -v c="$CLUSTER" '$2 == c' | sort -n | tail -n 1)"
if [ -z "$cluster_line" ]; then
    version="$(newest_installed_version)"
    [ -n "$version" ] || die "aucun serveur PostgreSQL trouvé sous /usr/lib/postgresql/*/bin."
    log "création du cluster $version/$CLUSTER"
    pg_createcluster "$version" "$CLUSTER" >&2
    cluster_line="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$CLUSTER" '$1 == v && $2 == c')"
fi
version="$(awk '{print $1}' <<<"$cluster_line")"
port="$(awk '{print $3}' <<<"$cluster_line")"
status="$(awk '{print $4}' <<<"$cluster_line")"

if [ "$status" != "online" ]; then
    log "démarrage du cluster $version/$CLUSTER (port $port)"
    pg_ctlcluster "$version" "$CLUSTER" start >&2
fi

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then
        break
    fi
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || die "le serveur ne répond pas sur 127.0.0.1:$port après 30 s."

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    log "création du rôle $ROLE"
    psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN PASSWORD '$PASSWORD'"
else
    # Keep the password in step with what the tests use, even on a reused cluster.
    psql_admin -c "ALTER ROLE \"$ROLE\" LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    log "création de la base $DATABASE"
    psql_admin -c "CREATE DATABASE \"$DATABASE\" OWNER \"$ROLE\" ENCODING 'UTF8' TEMPLATE template0"
fi

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"
