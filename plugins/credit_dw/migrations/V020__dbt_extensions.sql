-- pg_trgm for analysts' name search (gin trigram indexes on marts, created by dbt as
-- transformer). Creating an extension needs a superuser, so it happens here, in its own schema
-- rather than public (which is closed to everyone).
create schema if not exists extensions;
create extension if not exists pg_trgm schema extensions;
grant usage on schema extensions to transformer, analyst, steward;
