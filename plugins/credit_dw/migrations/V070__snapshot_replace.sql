-- A corrected snapshot for a day already applied replaces the wrong one exactly (issue 9).
-- previous_seen_on keeps what last_seen_on was before the latest snapshot carried the version,
-- so undoing that snapshot restores it; the replaced batch stays in the manifest as 'superseded'
-- (its quarantined rows stay for the record, its counts no longer count as loaded).
alter table raw.judicial_listing add column if not exists previous_seen_on date;

alter table quality.batch_manifest drop constraint if exists batch_manifest_status_check;
alter table quality.batch_manifest add constraint batch_manifest_status_check
    check (status in ('loaded', 'failed', 'superseded'));
