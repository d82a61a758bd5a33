-- Issue 21: the user customer-service reads the third party's MySQL with (EXTERNAL_MYSQL_URL).
-- It may SELECT the two tables the import maps (README "External MySQL import") and nothing
-- else: no INSERT/UPDATE/DELETE, no DDL, no other schema. customer-service also opens every
-- session READ ONLY (SET SESSION TRANSACTION READ ONLY), so even a broader user writes nothing.
-- Run by the third party's DBA (replace the schema name, the host mask and the password):
--   mysql -u root -p < deploy/mysql/read-only-user.sql
CREATE USER IF NOT EXISTS 'crm_import_ro'@'%' IDENTIFIED BY 'REPLACE_ME';
GRANT SELECT ON rb_crm.customers TO 'crm_import_ro'@'%';
GRANT SELECT ON rb_crm.companies TO 'crm_import_ro'@'%';
-- A few connections at most: one per run, plus /readyz and `make check-connections`.
ALTER USER 'crm_import_ro'@'%' WITH MAX_USER_CONNECTIONS 5;
