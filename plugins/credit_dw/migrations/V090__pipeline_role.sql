-- The pipeline's privileges as one group role: what Airflow tasks and the operator CLI need and
-- nothing more. Ingestion SETs ROLE loader, dbt and the publish swap SET ROLE transformer, the
-- report and alerts read quality as steward. No superuser, CREATEDB or CREATEROLE, and not
-- analyst. A deployment's login user is granted this role (`credit-dw bootstrap` does it for
-- the user in WAREHOUSE_DSN); membership is inherited, so plain reads need no SET ROLE.
do $$
begin
  if not exists (select from pg_roles where rolname = 'pipeline') then create role pipeline nologin; end if;
end $$;
grant loader, transformer, steward to pipeline;
