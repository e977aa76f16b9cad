{{ config(tags=['nightly']) }}
-- A seed (catalogue, publicity rules, grade rules, calendars...) changed since the last full
-- refresh. Tonight's change set would re-evaluate only tonight's records with the new reference
-- data, so the night stops here, before anything is published, until the deliberate full
-- refresh: `credit-dw build --full-refresh`. One row per seed added, removed or changed.
select
    coalesce(now_.seed_name, built.seed_name) as seed_name,
    now_.checksum as checksum_now,
    built.checksum as checksum_at_full_refresh,
    'seed ' || coalesce(now_.seed_name, built.seed_name)
        || ' changed since the last full refresh: run credit-dw build --full-refresh' as message

from {{ seed_checksums('now_') }}
full outer join {{ ref('int_night__seeds_at_full_refresh') }} as built
    on built.seed_name = now_.seed_name
where now_.checksum is distinct from built.checksum
