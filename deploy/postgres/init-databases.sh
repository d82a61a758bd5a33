#!/bin/sh
# PostgreSQL bootstrap, run once by the postgres image on an empty data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml): one database and one login role per
# service, each database closed to every other role, so no service can read another's data.
#   CRM_DB_PASSWORD  password of the service roles (URL-safe characters: it goes into URLs)
#   CRM_DATABASES    services to create (default: customer viewing analytics sync)
# Creates crm_customer, crm_viewing, crm_analytics, crm_sync (role and database alike).
set -eu
: "${CRM_DB_PASSWORD:?CRM_DB_PASSWORD must be set}"

for service in ${CRM_DATABASES:-customer viewing analytics sync}; do
    echo "crm: creating role and database crm_${service}"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
         -v name="crm_${service}" -v password="${CRM_DB_PASSWORD}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
