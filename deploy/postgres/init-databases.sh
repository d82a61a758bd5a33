#!/bin/sh
# PostgreSQL bootstrap, run once by the postgres image on an empty data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml): one database and one login role per
# service, each with its own password and closed to every other role, so no service can read
# another's data.
#   CRM_DATABASES          services to create (default: customer viewing analytics sync webhook issuer)
#   <SERVICE>_DB_PASSWORD  password of each one's role: CUSTOMER_DB_PASSWORD, VIEWING_DB_PASSWORD,
#                          ANALYTICS_DB_PASSWORD, SYNC_DB_PASSWORD, WEBHOOK_DB_PASSWORD,
#                          ISSUER_DB_PASSWORD (URL-safe: it goes into URLs)
# Creates crm_customer, crm_viewing, crm_analytics, crm_sync, crm_webhook, crm_issuer (role and
# database alike).
set -eu

for service in ${CRM_DATABASES:-customer viewing analytics sync webhook issuer}; do
    variable=$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
    password=$(printenv "$variable" || true)
    if [ -z "$password" ]; then
        echo "crm: $variable must be set" >&2
        exit 1
    fi
    echo "crm: creating role and database crm_${service}"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
         -v name="crm_${service}" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
