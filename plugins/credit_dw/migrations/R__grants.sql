-- Least privilege: each role exactly what its job needs, as documented in docs/security.md
-- (tests/integration/test_security.py compares the catalogue with that matrix). Re-applied by
-- every `credit-dw init`: everything is revoked first, so a privilege removed here is removed
-- from upgraded warehouses too, and new tables in these schemas are covered. dbt-created marts
-- are granted by the publish step (readers) and by dbt grants configs (audiences).
revoke all on all tables in schema raw, restricted, quality, governance
  from loader, transformer, analyst, steward, gatekeeper, disclosure_gate,
       audience_public, audience_application, audience_authorised, audience_government;
revoke all on all sequences in schema raw, restricted, quality, governance
  from loader, transformer, analyst, steward, gatekeeper, disclosure_gate,
       audience_public, audience_application, audience_authorised, audience_government;
revoke all on schema raw, restricted, quality, governance, disclosure
  from loader, transformer, analyst, steward, gatekeeper, disclosure_gate,
       audience_public, audience_application, audience_authorised, audience_government;

-- loader: ingestion. Appends raw rows; update and delete only for its own deliveries (the
-- judicial snapshot closes intervals and undoes a superseded day's snapshot, the columnar engine
-- moves in-file duplicates of its batch to quarantine); registers clear IDs; writes manifests
-- (updated at the end of a file) and quarantine (counted back for reconciliation).
grant usage on schema raw, quality, restricted to loader;
grant select, insert, update, delete on all tables in schema raw to loader;
-- select on the key only: `on conflict (id_hash) do nothing` reads it; the clear numbers stay unread
grant insert, select (id_hash) on restricted.person_identity to loader;
grant select, insert, update on quality.batch_manifest to loader;
grant select, insert on quality.rejected_rows to loader;
-- field drift rows of the file it loads (V050), written in the same transaction
grant select, insert on quality.field_drift to loader;

-- transformer: dbt. Reads raw, the batch manifest and the stewards' decisions; owns the dbt
-- schemas. It writes nothing outside them (the verdict is the gatekeeper's).
grant usage on schema raw, quality, governance to transformer;
grant select on all tables in schema raw to transformer;
grant select on quality.batch_manifest to transformer;
grant select on governance.objection, governance.credit_repair, governance.case_state to transformer;
-- the stewards' person link decisions, applied by int_person__link_candidates (V120)
grant select on governance.person_link_decision to transformer;
grant create, usage on schema staging, intermediate, snapshots, marts, marts_candidate to transformer;

-- gatekeeper: the quality gate. Records every validation, the alerts and the publication
-- verdict of a run whose marts gate it has checked (select: `returning` ids, the gate check).
grant usage on schema quality to gatekeeper;
grant select, insert on quality.validation_run, quality.alert, quality.publication to gatekeeper;
-- what it gates: the pending batches, their manifests and the reasons rows were quarantined
grant select on quality.pending_batch, quality.gated_batch, quality.batch_manifest, quality.rejected_rows
  to gatekeeper;
-- the deployed pipeline login (V090) runs the gate too
grant gatekeeper to pipeline;

-- analyst: the published marts only (table-level select granted on publish).
grant usage on schema marts to analyst;

-- steward: reads quality and the audit trail; takes decisions as new case rows, nothing else.
grant usage on schema quality, governance, marts to steward;
grant select on all tables in schema quality to steward;
grant select on all tables in schema governance to steward;
grant insert on governance.case_intake, governance.case_event to steward;
-- accepting a batch the feed gate keeps blocking (docs/operations.md)
grant insert on governance.batch_acceptance to steward;
-- accepting or rejecting a candidate person link (`credit-dw identity accept|reject`, V120)
grant insert on governance.person_link_decision to steward;

-- audiences: their dbt view in marts (usage on marts granted on publish); the authorised ones
-- may look persons up, logged.
grant usage on schema disclosure to audience_authorised, audience_government;
grant execute on function disclosure.lookup_person(text, text) to audience_authorised, audience_government;

-- disclosure_gate: owner of the lookup function; writes the lookup log.
grant usage on schema governance to disclosure_gate;
grant insert on governance.person_lookup to disclosure_gate;

-- history (V100/V101 grant its tables and history.explain_subject): the helpers explain_subject
-- calls, as its owner transformer, are nobody else's to call.
revoke all on function history.mask_ids(text), history.subject_rows_as_of(text, date, timestamptz) from public;
grant execute on function history.mask_ids(text) to transformer;
