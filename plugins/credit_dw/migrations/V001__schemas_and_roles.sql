-- Schemas and least-privilege group roles (Art. 8). Roles are NOLOGIN groups: deployments grant
-- them to login users; the pipeline itself SETs ROLE to the one a step needs.
do $$
begin
  if not exists (select from pg_roles where rolname = 'loader') then create role loader nologin; end if;
  if not exists (select from pg_roles where rolname = 'transformer') then create role transformer nologin; end if;
  if not exists (select from pg_roles where rolname = 'analyst') then create role analyst nologin; end if;
  if not exists (select from pg_roles where rolname = 'steward') then create role steward nologin; end if;
end $$;

create schema if not exists raw;          -- feeds as delivered, validated, with lineage
create schema if not exists restricted;   -- clear personal ID numbers; loader only
create schema if not exists quality;      -- manifests, quarantine, validation results, alerts
create schema if not exists governance;   -- objections, repairs, purge audit
create schema if not exists staging authorization transformer;
create schema if not exists intermediate authorization transformer;
create schema if not exists snapshots authorization transformer;
create schema if not exists marts authorization transformer;            -- published, analysts read
create schema if not exists marts_candidate authorization transformer;  -- built and gated here

revoke all on schema public from public;
revoke all on schema restricted from public;
