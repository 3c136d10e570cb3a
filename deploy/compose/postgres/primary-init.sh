#!/bin/sh
# Runs once, when the official postgres image initialises an empty data
# folder (/docker-entrypoint-initdb.d): a role for streaming replication and
# the pg_hba.conf line that lets the replica use it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
