-- Least privilege. Re-applied by every `credit-dw init` (grants are idempotent), so new tables
-- in these schemas are covered; dbt-created marts are granted by the publish step.
grant usage on schema raw, quality, restricted to loader;
grant select, insert, update, delete on all tables in schema raw to loader;
grant select, insert, update, delete on all tables in schema restricted to loader;
grant select, insert, update on quality.batch_manifest, quality.rejected_rows to loader;
grant usage on all sequences in schema quality, raw, restricted to loader;

grant usage on schema raw, quality, governance to transformer;
grant select on all tables in schema raw to transformer;
grant select on all tables in schema governance to transformer;
grant select, insert on quality.validation_run, quality.publication, quality.alert to transformer;
grant select on quality.batch_manifest, quality.rejected_rows to transformer;
grant create, usage on schema staging, intermediate, snapshots, marts, marts_candidate to transformer;

grant usage on schema marts to analyst;   -- table-level select granted on publish

grant usage on schema quality, governance, marts to steward;
grant select on all tables in schema quality to steward;
grant select, insert, update on all tables in schema governance to steward;
