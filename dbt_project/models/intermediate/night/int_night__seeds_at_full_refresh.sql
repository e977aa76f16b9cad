-- The seeds the incremental tables were last built from in full: written by a full refresh (and
-- by the first build of a warehouse), kept as they are by every night. A night compares them with
-- the seeds it runs with (tests/assert_seeds_unchanged_since_full_refresh.sql): tonight's change
-- set re-evaluates only tonight's records, so new reference data needs the full refresh.
select
    seed_name,
    checksum,
    {{ dbt.current_timestamp() }} as full_refresh_at

from {{ seed_checksums() }}
{% if is_incremental() %}
where false  -- a night keeps the checksums of the last full refresh
{% endif %}
