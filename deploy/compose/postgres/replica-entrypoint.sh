#!/bin/sh
# The streaming replica: on first start, clone the primary with
# pg_basebackup -R (writes standby.signal and primary_conninfo), then run
# postgres as a hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -q -h postgres-primary -p 5432; do
    echo "replica: waiting for the primary"; sleep 1
  done
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h postgres-primary -p 5432 -U replicator \
    -D "$PGDATA" -R -X stream -c fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on
