#!/bin/sh
# docker-compose.yml's database, on its first start (docker-entrypoint-initdb.d, as the superuser): the owner role owns
# the database and migrates it; the service role may only connect, and `migrate --grant-to pipeline_service` gives it rows, no DDL.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="$PIPELINE_OWNER_PASSWORD" -v service_password="$PIPELINE_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE pipeline_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE pipeline_service LOGIN PASSWORD :'service_password';
CREATE DATABASE pipeline OWNER pipeline_owner;
REVOKE ALL ON DATABASE pipeline FROM PUBLIC;
GRANT CONNECT ON DATABASE pipeline TO pipeline_service;
SQL
